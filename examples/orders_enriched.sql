-- Orders joined to customers.
--
--   eddy sql run examples/orders_enriched.sql
--
-- Customers are a table keyed by id; orders a stream keyed by order id that names its
-- customer. Each order is joined to its customer's current row (the stream is
-- repartitioned by customer id first), large orders are kept apart, and revenue is summed
-- per country.

CREATE TABLE customers (id INT PRIMARY KEY, name STRING, country STRING)
  WITH (kafka_topic='customers', value_format='JSON', partitions=2);

CREATE STREAM orders (order_id INT KEY, customer_id INT, amount DECIMAL(10, 2), ts BIGINT)
  WITH (kafka_topic='orders', value_format='JSON', partitions=2, timestamp='ts');

INSERT INTO customers (ROWTIME, id, name, country) VALUES (1690000000000, 1, 'Ada', 'UK');
INSERT INTO customers (ROWTIME, id, name, country) VALUES (1690000000000, 2, 'Grace', 'US');
INSERT INTO customers (ROWTIME, id, name, country) VALUES (1690000000000, 3, 'Hedy', 'AT');

INSERT INTO orders (order_id, customer_id, amount, ts) VALUES (100, 1, 20.00, 1700000000000);
INSERT INTO orders (order_id, customer_id, amount, ts) VALUES (101, 2, 250.50, 1700000001000);
INSERT INTO orders (order_id, customer_id, amount, ts) VALUES (102, 1, 5.25, 1700000002000);
INSERT INTO orders (order_id, customer_id, amount, ts) VALUES (103, 3, 120.00, 1700000003000);
INSERT INTO orders (order_id, customer_id, amount, ts) VALUES (104, 4, 9.99, 1700000004000);

-- Every order with its customer (orders of unknown customers are kept, with NULLs).
CREATE STREAM orders_enriched AS
  SELECT o.customer_id AS customer_id, o.order_id, o.amount, c.name, c.country
  FROM orders o LEFT JOIN customers c ON o.customer_id = c.id;

-- Orders of 100 or more.
CREATE STREAM large_orders AS
  SELECT customer_id, order_id, amount, name
  FROM orders_enriched
  WHERE amount >= 100;

-- Revenue per country.
CREATE TABLE revenue_per_country AS
  SELECT country, SUM(amount) AS revenue, COUNT(*) AS orders
  FROM orders_enriched
  WHERE country IS NOT NULL
  GROUP BY country;
