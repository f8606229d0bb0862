-- The sample database of `make demo`: a small shop, 36 tables with the
-- shapes a real schema has: foreign keys, triggers, sequences and identity
-- columns, a partitioned table, enums and domains, an extension, and
-- LOB-heavy tables holding multi-megabyte jsonb, bytea and text values.
--
-- psql -v scale=N (default 1; fractions work) multiplies the row counts.
-- pgbench's demo/workload.sql takes the counts of customers and products
-- that this prints: pgbench -D customers=N -D products=N.

\set ON_ERROR_STOP on
\if :{?scale}
\else
\set scale 1
\endif
SELECT greatest(10, (20000 * :scale)::int) AS customers,
	greatest(10, (5000 * :scale)::int) AS products,
	greatest(10, (150000 * :scale)::int) AS orders,
	greatest(10, (30000 * :scale)::int) AS reviews,
	greatest(10, (20000 * :scale)::int) AS notifications,
	greatest(10, (2000 * :scale)::int) AS events,
	greatest(1, (8 * :scale)::int) AS documents
\gset

CREATE EXTENSION IF NOT EXISTS pgcrypto;
CREATE EXTENSION IF NOT EXISTS citext;

CREATE SCHEMA shop;
CREATE SCHEMA hr;
CREATE SCHEMA content;
SET search_path = shop, public;

-- Types ----------------------------------------------------------------------
CREATE TYPE shop.order_status AS ENUM ('new', 'paid', 'shipped', 'delivered', 'cancelled');
CREATE TYPE shop.payment_method AS ENUM ('card', 'transfer', 'voucher');
CREATE DOMAIN shop.money_amount AS numeric(12, 2) CHECK (VALUE >= 0);
CREATE DOMAIN shop.email AS citext CHECK (VALUE ~ '^[^@]+@[^@]+$');
CREATE TYPE shop.dimensions AS (width_mm int, height_mm int, depth_mm int);

-- Reference data -------------------------------------------------------------
CREATE TABLE shop.countries (code char(2) PRIMARY KEY, name text NOT NULL);
CREATE TABLE shop.regions (
	id int GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	country char(2) NOT NULL REFERENCES shop.countries,
	name text NOT NULL
);
CREATE TABLE shop.currencies (code char(3) PRIMARY KEY, symbol text, decimals smallint NOT NULL DEFAULT 2);
CREATE TABLE shop.exchange_rates (
	currency char(3) REFERENCES shop.currencies,
	day date,
	rate numeric(18, 8) NOT NULL,
	PRIMARY KEY (currency, day)
);
CREATE TABLE shop.settings (key text PRIMARY KEY, value jsonb NOT NULL, updated_at timestamptz NOT NULL DEFAULT now());

-- Customers ------------------------------------------------------------------
CREATE TABLE shop.customers (
	id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	email shop.email NOT NULL UNIQUE,
	full_name text NOT NULL,
	country char(2) REFERENCES shop.countries,
	created_at timestamptz NOT NULL DEFAULT now(),
	updated_at timestamptz NOT NULL DEFAULT now(),
	name_search tsvector GENERATED ALWAYS AS (to_tsvector('simple', full_name)) STORED
);
CREATE TABLE shop.addresses (
	id bigserial PRIMARY KEY,
	customer_id bigint NOT NULL REFERENCES shop.customers ON DELETE CASCADE,
	region_id int REFERENCES shop.regions,
	line1 text NOT NULL,
	city text NOT NULL,
	postcode text
);
CREATE TABLE shop.loyalty_accounts (
	customer_id bigint PRIMARY KEY REFERENCES shop.customers ON DELETE CASCADE,
	points int NOT NULL DEFAULT 0 CHECK (points >= 0),
	tier text NOT NULL DEFAULT 'bronze'
);
CREATE TABLE shop.loyalty_transactions (
	id bigserial PRIMARY KEY,
	customer_id bigint NOT NULL REFERENCES shop.loyalty_accounts ON DELETE CASCADE,
	delta int NOT NULL,
	reason text,
	at timestamptz NOT NULL DEFAULT now()
);

-- Catalogue -------------------------------------------------------------------
CREATE TABLE shop.categories (
	id serial PRIMARY KEY,
	parent_id int REFERENCES shop.categories,
	name text NOT NULL COLLATE "C"
);
CREATE TABLE shop.suppliers (id serial PRIMARY KEY, name text NOT NULL, country char(2) REFERENCES shop.countries);
CREATE TABLE shop.products (
	id bigserial PRIMARY KEY,
	sku text NOT NULL UNIQUE,
	name text NOT NULL,
	category_id int REFERENCES shop.categories,
	price shop.money_amount NOT NULL,
	size shop.dimensions,
	attributes jsonb NOT NULL DEFAULT '{}',
	updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX products_attributes ON shop.products USING gin (attributes);
CREATE TABLE shop.supplier_products (
	supplier_id int REFERENCES shop.suppliers,
	product_id bigint REFERENCES shop.products,
	cost shop.money_amount NOT NULL,
	PRIMARY KEY (supplier_id, product_id)
);
CREATE TABLE shop.tags (id serial PRIMARY KEY, name text NOT NULL UNIQUE);
CREATE TABLE shop.product_tags (
	product_id bigint REFERENCES shop.products ON DELETE CASCADE,
	tag_id int REFERENCES shop.tags,
	PRIMARY KEY (product_id, tag_id)
);
CREATE TABLE shop.product_images (
	id bigserial PRIMARY KEY,
	product_id bigint NOT NULL REFERENCES shop.products ON DELETE CASCADE,
	mime text NOT NULL DEFAULT 'image/png',
	image bytea NOT NULL
);
CREATE TABLE shop.product_reviews (
	id bigserial PRIMARY KEY,
	product_id bigint NOT NULL REFERENCES shop.products ON DELETE CASCADE,
	customer_id bigint REFERENCES shop.customers ON DELETE SET NULL,
	stars smallint NOT NULL CHECK (stars BETWEEN 1 AND 5),
	body text
);
CREATE INDEX product_reviews_product ON shop.product_reviews (product_id);

-- Stock -------------------------------------------------------------------------
CREATE TABLE shop.warehouses (id serial PRIMARY KEY, name text NOT NULL, region_id int REFERENCES shop.regions);
CREATE TABLE shop.inventory (
	warehouse_id int REFERENCES shop.warehouses,
	product_id bigint REFERENCES shop.products,
	quantity int NOT NULL CHECK (quantity >= 0),
	updated_at timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (warehouse_id, product_id)
);
CREATE TABLE shop.stock_movements (
	id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
	warehouse_id int NOT NULL,
	product_id bigint NOT NULL,
	delta int NOT NULL,
	at timestamptz NOT NULL DEFAULT now(),
	FOREIGN KEY (warehouse_id, product_id) REFERENCES shop.inventory
);

-- Orders: partitioned by month --------------------------------------------------
CREATE SEQUENCE shop.orders_id_seq;
CREATE TABLE shop.orders (
	id bigint NOT NULL DEFAULT nextval('shop.orders_id_seq'),
	customer_id bigint NOT NULL REFERENCES shop.customers,
	status shop.order_status NOT NULL DEFAULT 'new',
	total shop.money_amount NOT NULL DEFAULT 0,
	currency char(3) NOT NULL DEFAULT 'EUR' REFERENCES shop.currencies,
	created_at timestamptz NOT NULL,
	PRIMARY KEY (id, created_at)
) PARTITION BY RANGE (created_at);
ALTER SEQUENCE shop.orders_id_seq OWNED BY shop.orders.id;
CREATE TABLE shop.orders_2024 PARTITION OF shop.orders
	FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
CREATE TABLE shop.orders_2025 PARTITION OF shop.orders
	FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
CREATE TABLE shop.orders_recent PARTITION OF shop.orders DEFAULT;
CREATE INDEX orders_customer ON shop.orders (customer_id);

CREATE TABLE shop.order_items (
	order_id bigint NOT NULL,
	order_created_at timestamptz NOT NULL,
	line smallint NOT NULL,
	product_id bigint NOT NULL REFERENCES shop.products,
	quantity int NOT NULL CHECK (quantity > 0),
	unit_price shop.money_amount NOT NULL,
	amount numeric(14, 2) GENERATED ALWAYS AS (quantity * unit_price) STORED,
	PRIMARY KEY (order_id, line),
	FOREIGN KEY (order_id, order_created_at) REFERENCES shop.orders ON DELETE CASCADE
);
CREATE TABLE shop.payments (
	id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
	order_id bigint NOT NULL,
	order_created_at timestamptz NOT NULL,
	method shop.payment_method NOT NULL,
	amount shop.money_amount NOT NULL,
	paid_at timestamptz NOT NULL DEFAULT now(),
	FOREIGN KEY (order_id, order_created_at) REFERENCES shop.orders
);
CREATE TABLE shop.shipments (
	id bigserial PRIMARY KEY,
	order_id bigint NOT NULL,
	order_created_at timestamptz NOT NULL,
	warehouse_id int REFERENCES shop.warehouses,
	tracking text UNIQUE,
	FOREIGN KEY (order_id, order_created_at) REFERENCES shop.orders
);
CREATE TABLE shop.shipment_events (
	shipment_id bigint REFERENCES shop.shipments ON DELETE CASCADE,
	at timestamptz NOT NULL,
	what text NOT NULL,
	PRIMARY KEY (shipment_id, at)
);
CREATE TABLE shop.coupons (
	code text PRIMARY KEY,
	percent_off smallint NOT NULL CHECK (percent_off BETWEEN 1 AND 90),
	valid tstzrange NOT NULL
);
CREATE TABLE shop.coupon_redemptions (
	coupon text REFERENCES shop.coupons,
	order_id bigint NOT NULL,
	order_created_at timestamptz NOT NULL,
	PRIMARY KEY (coupon, order_id),
	FOREIGN KEY (order_id, order_created_at) REFERENCES shop.orders
);
CREATE TABLE shop.carts (
	id bigserial PRIMARY KEY,
	customer_id bigint REFERENCES shop.customers ON DELETE CASCADE,
	updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE shop.cart_items (
	cart_id bigint REFERENCES shop.carts ON DELETE CASCADE,
	product_id bigint REFERENCES shop.products,
	quantity int NOT NULL,
	PRIMARY KEY (cart_id, product_id)
);
CREATE TABLE shop.wishlists (
	customer_id bigint REFERENCES shop.customers ON DELETE CASCADE,
	product_id bigint REFERENCES shop.products ON DELETE CASCADE,
	added_at timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (customer_id, product_id)
);
CREATE TABLE shop.notifications (
	id bigserial PRIMARY KEY,
	customer_id bigint REFERENCES shop.customers ON DELETE CASCADE,
	channel text NOT NULL,
	payload jsonb NOT NULL,
	sent_at timestamptz
);

-- Audit: filled by triggers; no primary key, replica identity FULL -----------
CREATE TABLE shop.audit_log (
	at timestamptz NOT NULL DEFAULT clock_timestamp(),
	table_name text NOT NULL,
	operation text NOT NULL,
	row_key text
);
ALTER TABLE shop.audit_log REPLICA IDENTITY FULL;
CREATE FUNCTION shop.audit() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	INSERT INTO shop.audit_log (table_name, operation, row_key)
	VALUES (TG_TABLE_NAME, TG_OP,
			CASE WHEN TG_OP = 'DELETE' THEN OLD.id::text ELSE NEW.id::text END);
	RETURN NULL;
END $$;
CREATE TRIGGER orders_audit AFTER INSERT OR UPDATE OR DELETE ON shop.orders
	FOR EACH ROW EXECUTE FUNCTION shop.audit();
CREATE TRIGGER customers_audit AFTER INSERT OR UPDATE OR DELETE ON shop.customers
	FOR EACH ROW EXECUTE FUNCTION shop.audit();
CREATE FUNCTION shop.touch() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	NEW.updated_at := now();
	RETURN NEW;
END $$;
CREATE TRIGGER products_touch BEFORE UPDATE ON shop.products
	FOR EACH ROW EXECUTE FUNCTION shop.touch();
CREATE TRIGGER inventory_touch BEFORE UPDATE ON shop.inventory
	FOR EACH ROW EXECUTE FUNCTION shop.touch();

-- HR ----------------------------------------------------------------------------
CREATE TABLE hr.departments (id serial PRIMARY KEY, name text NOT NULL UNIQUE);
CREATE TABLE hr.employees (
	id int GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	department_id int REFERENCES hr.departments,
	manager_id int REFERENCES hr.employees,
	name text NOT NULL,
	email shop.email UNIQUE,
	hired daterange NOT NULL
);
CREATE TABLE hr.salaries (
	employee_id int REFERENCES hr.employees,
	since date,
	amount shop.money_amount NOT NULL,
	PRIMARY KEY (employee_id, since)
);

-- Content: the LOB-heavy tables --------------------------------------------------
CREATE TABLE content.documents (
	id bigserial PRIMARY KEY,
	title text NOT NULL,
	body text NOT NULL,
	version int NOT NULL DEFAULT 1
);
CREATE TABLE content.event_store (
	id bigserial PRIMARY KEY,
	stream text NOT NULL,
	payload jsonb NOT NULL,
	recorded_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE content.attachments (
	id bigserial PRIMARY KEY,
	document_id bigint REFERENCES content.documents ON DELETE CASCADE,
	name text NOT NULL,
	data bytea NOT NULL
);
CREATE VIEW shop.order_totals AS
	SELECT customer_id, count(*) AS orders, sum(total) AS total FROM shop.orders GROUP BY customer_id;

-- Data ------------------------------------------------------------------------------
-- Consistent by construction: loading without the per-row foreign key and
-- audit triggers (session_replication_role = replica) is several times faster.
SET session_replication_role = replica;
INSERT INTO shop.countries VALUES ('FR', 'France'), ('DE', 'Germany'), ('ES', 'Spain'),
	('IT', 'Italy'), ('NL', 'Netherlands'), ('PL', 'Poland'), ('SE', 'Sweden'), ('JP', 'Japan');
INSERT INTO shop.regions (country, name)
	SELECT c.code, c.name || ' region ' || g FROM shop.countries c, generate_series(1, 5) g;
INSERT INTO shop.currencies VALUES ('EUR', '€', 2), ('SEK', 'kr', 2), ('PLN', 'zł', 2), ('JPY', '¥', 0);
INSERT INTO shop.exchange_rates
	SELECT c.code, d::date, 1 + random() FROM shop.currencies c,
		generate_series('2024-01-01'::date, '2025-06-30', '1 day') d;
INSERT INTO shop.settings VALUES ('checkout', '{"guest": true, "max_items": 50}'),
	('shipping', '{"free_above": 49.9}');

INSERT INTO shop.customers (email, full_name, country, created_at)
	SELECT 'user' || g || '@example.com', 'Customer ' || g || ' Ünïcødé',
		(ARRAY['FR','DE','ES','IT','NL','PL','SE','JP'])[1 + g % 8],
		'2024-01-01'::timestamptz + g * interval '7 minutes'
	FROM generate_series(1, :customers) g;
INSERT INTO shop.addresses (customer_id, region_id, line1, city, postcode)
	SELECT id, 1 + id % 40, id || ' Main Street', 'City ' || id % 300, lpad((id % 99999)::text, 5, '0')
	FROM shop.customers;
INSERT INTO shop.loyalty_accounts (customer_id, points)
	SELECT id, (id * 37) % 5000 FROM shop.customers WHERE id % 3 = 0;
INSERT INTO shop.loyalty_transactions (customer_id, delta, reason)
	SELECT customer_id, 10, 'welcome' FROM shop.loyalty_accounts;

INSERT INTO shop.categories (parent_id, name) SELECT NULL, 'Category ' || g FROM generate_series(1, 20) g;
INSERT INTO shop.categories (parent_id, name) SELECT 1 + g % 20, 'Sub ' || g FROM generate_series(1, 80) g;
INSERT INTO shop.suppliers (name, country)
	SELECT 'Supplier ' || g, (ARRAY['FR','DE','JP'])[1 + g % 3] FROM generate_series(1, 50) g;
INSERT INTO shop.products (sku, name, category_id, price, size, attributes)
	SELECT 'SKU-' || g, 'Product ' || g, 1 + g % 100, (g % 500) + 0.99,
		ROW(g % 300, g % 200, g % 100)::shop.dimensions,
		jsonb_build_object('color', (ARRAY['red','green','blue'])[1 + g % 3], 'weight_g', g % 2000)
	FROM generate_series(1, :products) g;
INSERT INTO shop.supplier_products SELECT 1 + p.id % 50, p.id, p.price * 0.6 FROM shop.products p;
INSERT INTO shop.tags (name) SELECT 'tag' || g FROM generate_series(1, 200) g;
INSERT INTO shop.product_tags SELECT p.id, 1 + (p.id * k) % 200 FROM shop.products p, generate_series(1, 3) k
	ON CONFLICT DO NOTHING;
INSERT INTO shop.product_images (product_id, image)
	SELECT id, decode(repeat(md5(id::text), 64), 'hex') FROM shop.products;
INSERT INTO shop.product_reviews (product_id, customer_id, stars, body)
	SELECT 1 + g % (:products), 1 + g % (:customers), 1 + g % 5, repeat('Good value. ', 1 + g % 20)
	FROM generate_series(1, :reviews) g;

INSERT INTO shop.warehouses (name, region_id) SELECT 'Warehouse ' || g, g FROM generate_series(1, 10) g;
INSERT INTO shop.inventory (warehouse_id, product_id, quantity)
	SELECT w.id, p.id, (p.id * w.id) % 1000 FROM shop.warehouses w, shop.products p;
INSERT INTO shop.stock_movements (warehouse_id, product_id, delta)
	SELECT warehouse_id, product_id, quantity FROM shop.inventory WHERE product_id % 4 = 0;

INSERT INTO shop.orders (customer_id, status, total, created_at)
	SELECT 1 + g % (:customers), (ARRAY['new','paid','shipped','delivered','cancelled'])[1 + g % 5]::shop.order_status,
		0, '2024-01-01'::timestamptz + g * interval '4 minutes'
	FROM generate_series(1, :orders) g;
INSERT INTO shop.order_items (order_id, order_created_at, line, product_id, quantity, unit_price)
	SELECT o.id, o.created_at, l, 1 + (o.id * l) % (:products), 1 + l, 9.99
	FROM shop.orders o, generate_series(1, 2) l;
INSERT INTO shop.payments (order_id, order_created_at, method, amount)
	SELECT id, created_at, (ARRAY['card','transfer','voucher'])[1 + id % 3]::shop.payment_method, 19.98
	FROM shop.orders WHERE status <> 'new';
INSERT INTO shop.shipments (order_id, order_created_at, warehouse_id, tracking)
	SELECT id, created_at, 1 + id % 10, 'TRK' || id FROM shop.orders WHERE status IN ('shipped', 'delivered');
INSERT INTO shop.shipment_events SELECT id, now() - interval '1 day', 'left warehouse' FROM shop.shipments;
INSERT INTO shop.coupons VALUES ('WELCOME10', 10, '[2024-01-01,2026-01-01)'), ('SUMMER25', 25, '[2025-06-01,2025-09-01)');
INSERT INTO shop.coupon_redemptions SELECT 'WELCOME10', id, created_at FROM shop.orders WHERE id % 50 = 0;
INSERT INTO shop.carts (customer_id) SELECT id FROM shop.customers WHERE id % 4 = 0;
INSERT INTO shop.cart_items SELECT c.id, 1 + (c.id * 7) % (:products), 1 FROM shop.carts c;
INSERT INTO shop.wishlists (customer_id, product_id)
	SELECT id, 1 + (id * 13) % (:products) FROM shop.customers WHERE id % 5 = 0;
INSERT INTO shop.notifications (customer_id, channel, payload, sent_at)
	SELECT 1 + g % (:customers), 'email', jsonb_build_object('template', 'promo', 'n', g), now()
	FROM generate_series(1, :notifications) g;

INSERT INTO hr.departments (name) SELECT 'Department ' || g FROM generate_series(1, 8) g;
INSERT INTO hr.employees (department_id, manager_id, name, email, hired)
	SELECT 1 + g % 8, NULL, 'Employee ' || g, 'emp' || g || '@shop.example', daterange('2020-01-01'::date + g, NULL)
	FROM generate_series(1, 300) g;
UPDATE hr.employees SET manager_id = 1 + id % 8 WHERE id > 8;
INSERT INTO hr.salaries SELECT id, '2024-01-01', 3000 + id FROM hr.employees;

-- Multi-megabyte values: ~2 MB of incompressible text, ~2 MB of random bytea
-- and ~2.5 MB of jsonb per row.
INSERT INTO content.documents (title, body)
	SELECT 'Document ' || g,
		(SELECT string_agg(md5(g::text || ':' || i::text), ' ') FROM generate_series(1, 62000) i)
	FROM generate_series(1, :documents) g;
INSERT INTO content.attachments (document_id, name, data)
	SELECT d.id, 'scan-' || d.id || '.bin', gen_random_bytes(1024) || (SELECT string_agg(gen_random_bytes(1024), '') FROM generate_series(1, 2047))
	FROM content.documents d;
INSERT INTO content.event_store (stream, payload)
	SELECT 'cart-' || g,
		jsonb_build_object('items', (SELECT jsonb_agg(jsonb_build_object('sku', 'SKU-' || i, 'name', md5(i::text || g), 'qty', i % 7))
									  FROM generate_series(1, 30000) i))
	FROM generate_series(1, :documents) g;
INSERT INTO content.event_store (stream, payload)
	SELECT 'small-' || g, jsonb_build_object('n', g) FROM generate_series(1, :events) g;

RESET session_replication_role;
ANALYZE;
