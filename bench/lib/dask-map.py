# Dask distributed: client.map + gather over N inputs, 2 worker processes (argv: N).
import sys, time
from dask.distributed import Client, LocalCluster

def square(x):
    return x * x

if __name__ == "__main__":
    n = int(sys.argv[1])
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, Client(cluster) as client:
        client.gather(client.map(square, range(200), pure=False))  # warm up
        t = time.perf_counter()
        out = client.gather(client.map(square, range(n), pure=False))
        dt = time.perf_counter() - t
        assert out[-1] == (n - 1) ** 2
        print(f"{n / dt:.0f}")
