-- Room in each page for a row's later versions. A call's input, graph row and attempt are
-- each updated once or twice soon after their insert (attempt ended, status, blobs let go),
-- in columns no index covers: Postgres can write those as HOT updates (the new version in
-- the same page, no index entries) only where the page has room, and a page filled to 100%
-- by the inserts has none. Measured (bench/spawn-cpu.ts, 10 000 spawns): 5% of those
-- updates were HOT, each of the others writing every index of its table again; at 70, 45%;
-- at 50, all of the inputs' and attempts' and 73% of the graph rows' (WAL records per spawn
-- 55 -> 39). New pages only; these tables' heaps take up to twice the room (they hold at most
-- the retention's calls; an argument over about 2 kB is stored out of line).
ALTER TABLE inputs SET (fillfactor = 50);
ALTER TABLE graph_inputs SET (fillfactor = 50);
ALTER TABLE attempts SET (fillfactor = 50);
