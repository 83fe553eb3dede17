-- Usage comes from the provider's own numbers; where it sends none, Sluice estimates them and
-- says so. `cost_usd` (from the model's price in config) is stored with the answer.
ALTER TABLE messages ADD COLUMN usage_estimated boolean NOT NULL DEFAULT false;
