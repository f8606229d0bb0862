-- The write workload of `make demo` (a pgbench script; run with -n and
-- -D customers=N -D products=N, the counts demo/sample.sql loaded).  Each transaction is a
-- checkout: an order in the current partition with its items, payment and
-- stock movement, touching customers (audit trigger), inventory (update of
-- a few columns), carts (delete) and, now and then, the LOB tables (an
-- update that leaves the multi-megabyte column unchanged, and a new
-- medium-sized document).
\set customer random(1, :customers)
\set product random(1, :products)
\set warehouse random(1, 10)
\set quantity random(1, 4)
\set lob random(1, 100)
BEGIN;
INSERT INTO shop.orders (customer_id, status, total, created_at)
	VALUES (:customer, 'new', 0, now()) RETURNING id AS order_id \gset
INSERT INTO shop.order_items (order_id, order_created_at, line, product_id, quantity, unit_price)
	VALUES (:order_id, now(), 1, :product, :quantity, 9.99);
UPDATE shop.orders SET status = 'paid', total = :quantity * 9.99
	WHERE id = :order_id AND created_at = now();
INSERT INTO shop.payments (order_id, order_created_at, method, amount)
	VALUES (:order_id, now(), 'card', :quantity * 9.99);
UPDATE shop.inventory SET quantity = quantity + :quantity
	WHERE warehouse_id = :warehouse AND product_id = :product;
INSERT INTO shop.stock_movements (warehouse_id, product_id, delta)
	VALUES (:warehouse, :product, -:quantity);
UPDATE shop.customers SET updated_at = now() WHERE id = :customer;
DELETE FROM shop.cart_items WHERE cart_id = (SELECT id FROM shop.carts WHERE customer_id = :customer);
INSERT INTO shop.notifications (customer_id, channel, payload)
	VALUES (:customer, 'email', jsonb_build_object('order', :order_id));
\if :lob <= 2
UPDATE content.documents SET version = version + 1 WHERE id = 1 + :order_id % 8;
UPDATE content.event_store SET recorded_at = now() WHERE id = 1 + :order_id % 8;
\elif :lob = 3
INSERT INTO content.documents (title, body)
	SELECT 'Note ' || :order_id, string_agg(md5(i::text), ' ') FROM generate_series(1, 5000) i;
\endif
END;
