-- Page views per region, materialised into a topic.
--
--   eddy sql run examples/page_views_per_region.sql
--
-- Users have a region (a table, keyed by user id); page views are a stream keyed by user
-- id. Views are enriched with the viewer's region, then counted per region in a table
-- that is written to the topic VIEWS_PER_REGION, and per region and minute. The users are
-- written with an earlier ROWTIME than the views: a stream-table join matches each view
-- with the table as it was at the view's time.

CREATE TABLE users (user_id STRING PRIMARY KEY, name STRING, region STRING)
  WITH (kafka_topic='users', value_format='JSON', partitions=2);

CREATE STREAM pageviews (user_id STRING KEY, page STRING, viewtime BIGINT)
  WITH (kafka_topic='pageviews', value_format='JSON', partitions=2, timestamp='viewtime');

INSERT INTO users (ROWTIME, user_id, name, region) VALUES (1690000000000, 'u1', 'Ada', 'eu-west');
INSERT INTO users (ROWTIME, user_id, name, region) VALUES (1690000000000, 'u2', 'Grace', 'us-east');
INSERT INTO users (ROWTIME, user_id, name, region) VALUES (1690000000000, 'u3', 'Linus', 'eu-west');

INSERT INTO pageviews (user_id, page, viewtime) VALUES ('u1', '/home', 1700000000000);
INSERT INTO pageviews (user_id, page, viewtime) VALUES ('u2', '/pricing', 1700000001000);
INSERT INTO pageviews (user_id, page, viewtime) VALUES ('u3', '/home', 1700000002000);
INSERT INTO pageviews (user_id, page, viewtime) VALUES ('u1', '/docs', 1700000061000);
INSERT INTO pageviews (user_id, page, viewtime) VALUES ('u2', '/home', 1700000062000);
INSERT INTO pageviews (user_id, page, viewtime) VALUES ('u9', '/home', 1700000063000);

-- Each view with the viewer's region (a stream-table join on the key).
CREATE STREAM views_with_region AS
  SELECT v.user_id AS user_id, v.page, u.region
  FROM pageviews v JOIN users u ON v.user_id = u.user_id;

-- Views per region, kept up to date: a table, written to its topic as a changelog.
CREATE TABLE views_per_region AS
  SELECT region, COUNT(*) AS views
  FROM views_with_region
  GROUP BY region
  EMIT CHANGES;

-- Views per region and minute.
CREATE TABLE views_per_region_per_minute AS
  SELECT region, COUNT(*) AS views
  FROM views_with_region
  WINDOW TUMBLING (SIZE 1 MINUTE)
  GROUP BY region
  EMIT CHANGES;
