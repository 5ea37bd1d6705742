-- Graph addresses a mailbox by object id or UPN, and an SMTP address is often neither: the
-- directory id the address resolved to.
ALTER TABLE subscriptions ADD COLUMN mailbox_id TEXT;
