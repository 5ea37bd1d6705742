-- The tenant of the account a profile was authorized with (the ID token's `tid`): personal
-- Microsoft accounts sign in with the consumers tenant and have no directory or rooms.
ALTER TABLE profiles ADD COLUMN account_tenant TEXT;
