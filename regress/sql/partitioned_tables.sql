-- partitioned_tables: changes arrive on the leaf partitions, each with its
-- own Relation frame naming the root partitioned table, so a consumer may
-- route rows through the root.  A row that moves between partitions is a
-- delete from one and an insert into the other.  TRUNCATE of the root lists
-- the leaves (the partitioned tables themselves hold no rows).
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS pgferry;
RESET client_min_messages;

CREATE SCHEMA archive;
CREATE TABLE sales (id int, region text, amount numeric, PRIMARY KEY (id, region))
	PARTITION BY LIST (region);
CREATE TABLE sales_eu PARTITION OF sales FOR VALUES IN ('eu');
CREATE TABLE sales_us PARTITION OF sales FOR VALUES IN ('us') PARTITION BY RANGE (id);
CREATE TABLE sales_us_low PARTITION OF sales_us FOR VALUES FROM (MINVALUE) TO (100);
-- a partition may live in another schema than its root
CREATE TABLE archive.sales_us_high PARTITION OF sales_us FOR VALUES FROM (100) TO (MAXVALUE);

SELECT 'init' FROM pg_create_logical_replication_slot('regression_slot', 'pgferry');

INSERT INTO sales VALUES (1, 'eu', 10), (2, 'us', 20), (200, 'us', 30);
UPDATE sales SET amount = 11 WHERE id = 1;
UPDATE sales SET region = 'us' WHERE id = 1;
UPDATE sales SET id = 300 WHERE id = 2;
DELETE FROM sales WHERE id = 200;
TRUNCATE sales;

SELECT pgferry.frame_text(data, true)
FROM pg_logical_slot_get_binary_changes('regression_slot', NULL, NULL)
WHERE pgferry.frame_text(data, true) !~ '^(begin|commit|startup)';

-- a table attached as a partition gets the root in its next Relation frame
CREATE TABLE sales_asia (id int NOT NULL, region text NOT NULL, amount numeric);
INSERT INTO sales_asia VALUES (5, 'asia', 50);
ALTER TABLE sales ATTACH PARTITION sales_asia FOR VALUES IN ('asia');
INSERT INTO sales VALUES (6, 'asia', 60);
SELECT pgferry.frame_text(data, true)
FROM pg_logical_slot_get_binary_changes('regression_slot', NULL, NULL)
WHERE pgferry.frame_text(data, true) !~ '^(begin|commit|startup)';

SELECT pg_drop_replication_slot('regression_slot');
DROP TABLE sales;
DROP SCHEMA archive;
