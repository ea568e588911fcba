-- Objects per environment are limited (maxObjectsPerEnvironment): counted at each create.
CREATE INDEX objects_environment ON objects(environment);
