-- The order of access changes (a relationship started or ended, a gym joined or left):
-- each change event carries the next value, and projections apply a change only over
-- a lower one. A change takes its value under the row lock that serializes changes of
-- the same pair, so for one pair the versions follow the commits.
create sequence access_version;
