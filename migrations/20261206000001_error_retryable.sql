-- Whether an answer's error may pass (the terminal event's `retryable`), stored so that an API
-- publishing the end of an answer for a dead worker sends the same event the worker would have.
ALTER TABLE messages ADD COLUMN error_retryable boolean NOT NULL DEFAULT false;
