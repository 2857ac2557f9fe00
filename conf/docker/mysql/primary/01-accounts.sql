-- MySQL 8.4 primary (mysql-primary, server-id 1): run once by the image's entrypoint on an
-- empty data directory (/docker-entrypoint-initdb.d), as root, on a temporary server.
-- Everything here IS written to the binary log, so the replicas get the schema and the
-- accounts through replication (GTID auto-positioning from the very first transaction).
-- Passwords must match conf/docker/sluice.yaml and conf/docker/mysql/replica/10-replication.sh.

CREATE DATABASE IF NOT EXISTS sluice_test;

-- Replication account (replicas connect with GET_SOURCE_PUBLIC_KEY=1: caching_sha2_password
-- over a plain connection).
CREATE USER IF NOT EXISTS 'repl'@'%' IDENTIFIED BY 'repl-secret';
GRANT REPLICATION SLAVE ON *.* TO 'repl'@'%';

-- Sluice's backend account (dataHost.user): client traffic, heartbeats (SELECT 1,
-- @@read_only), SHOW REPLICA STATUS (REPLICATION CLIENT). Deliberately minimal: in MySQL 8.4
-- CONNECTION_ADMIN and SUPER let an account write on a read_only=ON server, so it holds neither
-- (nor SYSTEM_VARIABLES_ADMIN, nor ALL PRIVILEGES ON *.*).
CREATE USER IF NOT EXISTS 'app'@'%' IDENTIFIED BY 'app';
GRANT SELECT, INSERT, UPDATE, DELETE, CREATE, DROP, ALTER, INDEX, REFERENCES,
      CREATE TEMPORARY TABLES, LOCK TABLES, EXECUTE, CREATE VIEW, SHOW VIEW,
      CREATE ROUTINE, ALTER ROUTINE, TRIGGER, EVENT
  ON sluice_test.* TO 'app'@'%';
GRANT REPLICATION CLIENT ON *.* TO 'app'@'%';

-- Sluice's promotion/fencing account (dataHost.failover.user): SET GLOBAL read_only=ON|OFF
-- (SYSTEM_VARIABLES_ADMIN; read_only=OFF also clears super_read_only), STOP REPLICA
-- (REPLICATION_SLAVE_ADMIN), SHOW REPLICA STATUS (REPLICATION CLIENT). No data privileges.
CREATE USER IF NOT EXISTS 'sluice_admin'@'%' IDENTIFIED BY 'sluice-admin-secret';
GRANT SYSTEM_VARIABLES_ADMIN, REPLICATION_SLAVE_ADMIN ON *.* TO 'sluice_admin'@'%';
GRANT REPLICATION CLIENT ON *.* TO 'sluice_admin'@'%';
