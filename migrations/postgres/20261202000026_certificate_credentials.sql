-- How a profile proves itself: its client secret, or (application profiles) a certificate.
-- For a certificate, `client_secret_enc` holds the sealed private key (PKCS#8 PEM, under the
-- context `profiles:private_key:{uuid}`, so it never opens as a secret), `certificate` the
-- public certificate (base64 DER), and `secret_expires_on` the certificate's expiry date, so
-- the reminders for expiring secrets apply unchanged.
ALTER TABLE profiles ADD COLUMN credential TEXT NOT NULL DEFAULT 'secret' CHECK (credential IN ('secret', 'certificate'));
ALTER TABLE profiles ADD COLUMN certificate TEXT;
