-- Objects per environment are limited (maxObjectsPerEnvironment): counted at each create.
-- IF (NOT) EXISTS: it may run again on a database whose newer migrations were undone by hand.
CREATE INDEX IF NOT EXISTS objects_environment ON objects(environment);
