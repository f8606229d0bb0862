-- subtransactions: what a subtransaction rolled back (ROLLBACK TO SAVEPOINT,
-- an exception block) did is never sent; released and surviving
-- subtransactions are part of their transaction, in order.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS pgferry;
RESET client_min_messages;

CREATE TABLE subxact (id int PRIMARY KEY, note text);
SELECT 'init' FROM pg_create_logical_replication_slot('regression_slot', 'pgferry');

BEGIN;
INSERT INTO subxact VALUES (1, 'top');
SAVEPOINT a;
INSERT INTO subxact VALUES (2, 'in a');
SAVEPOINT b;
INSERT INTO subxact VALUES (3, 'in b, rolled back');
ROLLBACK TO SAVEPOINT b;
INSERT INTO subxact VALUES (4, 'in a after rollback to b');
RELEASE SAVEPOINT a;
SAVEPOINT c;
INSERT INTO subxact VALUES (5, 'in c, rolled back');
UPDATE subxact SET note = 'changed in c, rolled back' WHERE id = 1;
ROLLBACK TO SAVEPOINT c;
UPDATE subxact SET note = 'top, updated' WHERE id = 1;
COMMIT;

DO $$
BEGIN
	BEGIN
		INSERT INTO subxact VALUES (6, 'in a failed block');
		RAISE EXCEPTION 'undo the block';
	EXCEPTION WHEN raise_exception THEN
		INSERT INTO subxact VALUES (7, 'in the handler');
	END;
	INSERT INTO subxact VALUES (8, 'after the block');
END
$$;

-- a transaction whose only change was rolled back sends nothing
BEGIN;
SAVEPOINT lonely;
INSERT INTO subxact VALUES (9, 'rolled back');
ROLLBACK TO SAVEPOINT lonely;
COMMIT;

SELECT pgferry.frame_text(data, true)
FROM pg_logical_slot_get_binary_changes('regression_slot', NULL, NULL);

SELECT pg_drop_replication_slot('regression_slot');
DROP TABLE subxact;
