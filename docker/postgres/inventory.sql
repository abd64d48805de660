-- The Debezium tutorial `inventory` database, extended with business facts (order status, amounts,
-- prices, modification times). Runs once on an empty data directory (/docker-entrypoint-initdb.d) in
-- database `postgres`. The same rows are the snapshot in captures/postgres/ (scripts/generate-captures.ts).
CREATE SCHEMA inventory;
SET search_path TO inventory;

CREATE TYPE inventory.address_type AS ENUM ('SHIPPING', 'BILLING', 'LIVING');
CREATE TYPE inventory.order_status AS ENUM ('NEW', 'PAID', 'SHIPPED', 'DELIVERED', 'CANCELLED');

CREATE TABLE inventory.products (
  id SERIAL NOT NULL PRIMARY KEY,
  name VARCHAR(255) NOT NULL,
  description VARCHAR(512),
  weight FLOAT,
  price NUMERIC(10, 2) NOT NULL
);
ALTER SEQUENCE inventory.products_id_seq RESTART WITH 101;

CREATE TABLE inventory.customers (
  id SERIAL NOT NULL PRIMARY KEY,
  first_name VARCHAR(255) NOT NULL,
  last_name VARCHAR(255) NOT NULL,
  email VARCHAR(255) NOT NULL UNIQUE
);
ALTER SEQUENCE inventory.customers_id_seq RESTART WITH 1001;

CREATE TABLE inventory.addresses (
  id SERIAL NOT NULL PRIMARY KEY,
  customer_id INTEGER NOT NULL REFERENCES inventory.customers (id),
  street VARCHAR(255) NOT NULL,
  city VARCHAR(255) NOT NULL,
  state VARCHAR(255) NOT NULL,
  zip VARCHAR(255) NOT NULL,
  type inventory.address_type NOT NULL
);
ALTER SEQUENCE inventory.addresses_id_seq RESTART WITH 10;

CREATE TABLE inventory.orders (
  id SERIAL NOT NULL PRIMARY KEY,
  order_date DATE NOT NULL,
  purchaser INTEGER NOT NULL REFERENCES inventory.customers (id),
  quantity INTEGER NOT NULL,
  product_id INTEGER NOT NULL REFERENCES inventory.products (id),
  -- added to the tutorial schema: the order's business state
  status inventory.order_status NOT NULL,
  amount NUMERIC(12, 2) NOT NULL,
  updated_at TIMESTAMPTZ NOT NULL
);
ALTER SEQUENCE inventory.orders_id_seq RESTART WITH 10001;

-- Updates and deletes carry the complete old row (`before`), so that the transforms can tell WHAT
-- changed (CustomerEmailChanged, ProductPriceChanged, OrderShipped …) and deletes can be keyed by
-- columns other than the primary key (AddressRemoved is keyed by customer_id). With the default
-- (REPLICA IDENTITY DEFAULT) pgoutput sends no old row for updates; see docs/example.md.
ALTER TABLE inventory.products REPLICA IDENTITY FULL;
ALTER TABLE inventory.customers REPLICA IDENTITY FULL;
ALTER TABLE inventory.addresses REPLICA IDENTITY FULL;
ALTER TABLE inventory.orders REPLICA IDENTITY FULL;

INSERT INTO inventory.products (id, name, description, weight, price) VALUES
  (101, 'scooter', 'Small 2-wheel scooter', 3.14, 249.00),
  (102, 'car battery', '12V car battery', 8.1, 89.99),
  (103, '12-pack drill bits', '12-pack of drill bits with sizes ranging from #40 to #3', 0.8, 12.49),
  (104, 'hammer', '12oz carpenter''s hammer', 0.75, 14.99),
  (105, 'hammer', '14oz carpenter''s hammer', 0.875, 17.99),
  (106, 'hammer', '16oz carpenter''s hammer', 1.0, 19.99),
  (107, 'rocks', 'box of assorted rocks', 5.3, 4.50),
  (108, 'jacket', 'water resistent black wind breaker', 0.1, 59.95),
  (109, 'spare tire', '24 inch spare tire', 22.2, 120.00);

INSERT INTO inventory.customers (id, first_name, last_name, email) VALUES
  (1001, 'Sally', 'Thomas', 'sally.thomas@acme.com'),
  (1002, 'George', 'Bailey', 'gbailey@foobar.com'),
  (1003, 'Edward', 'Walker', 'ed@walker.com'),
  (1004, 'Anne', 'Kretchmar', 'annek@noanswer.org');

INSERT INTO inventory.addresses (id, customer_id, street, city, state, zip, type) VALUES
  (10, 1001, '3183 Moore Avenue', 'Euless', 'Texas', '76036', 'SHIPPING'),
  (11, 1001, '2389 Hidden Valley Road', 'Harrisburg', 'Pennsylvania', '17116', 'BILLING'),
  (12, 1002, '281 Riverside Drive', 'Augusta', 'Georgia', '30901', 'BILLING'),
  (13, 1003, '3787 Brownton Road', 'Columbus', 'Mississippi', '39701', 'SHIPPING'),
  (14, 1003, '2458 Lost Creek Road', 'Bethlehem', 'Pennsylvania', '18018', 'SHIPPING'),
  (15, 1003, '4800 Simpson Square', 'Hillsdale', 'Oklahoma', '74743', 'BILLING'),
  (16, 1004, '1289 University Hill Road', 'Canehill', 'Arkansas', '72717', 'LIVING');

INSERT INTO inventory.orders (id, order_date, purchaser, quantity, product_id, status, amount, updated_at) VALUES
  (10001, '2016-01-16', 1001, 1, 102, 'DELIVERED', 89.99, '2016-01-20 14:02:11.504118+00'),
  (10002, '2016-01-17', 1002, 2, 105, 'DELIVERED', 35.98, '2016-01-22 09:41:57.130226+00'),
  (10003, '2016-02-19', 1002, 2, 106, 'SHIPPED', 39.98, '2016-02-22 16:20:03.877310+00'),
  (10004, '2016-02-21', 1003, 1, 107, 'PAID', 4.50, '2016-02-21 11:05:48.019552+00');

-- The publication Debezium reads (connector: publication.name=dbz_inventory,
-- publication.autocreate.mode=disabled), so the connector user needs no table ownership.
CREATE PUBLICATION dbz_inventory FOR TABLE inventory.products, inventory.customers, inventory.addresses, inventory.orders;
