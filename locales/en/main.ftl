# Datapump — English catalogue. Keys are identical in every language (checked by a test).

## Layout
nav-label = Main navigation
nav-dashboard = Dashboard
nav-admins = Admins
nav-audit = Audit log
nav-account = My account
nav-logout = Sign out
footer-tagline = Microsoft 365 calendars into your database
save = Save
welcome-user = Welcome, { $name }!

## Errors
error-status = Status { $status }
error-back = Back to the dashboard
error-not-found-title = Not found
error-not-found = This page or record does not exist (any more).
error-forbidden-title = Not allowed
error-forbidden = Your role does not allow this action. Viewers can look at everything but change nothing.
error-csrf = The form was rejected because its security token was missing or outdated, or it came from another site. Nothing was changed. Reload the page and try again.
error-bad-request-title = Invalid request
error-conflict-title = Conflict
error-conflict = Someone else changed this record in the meantime. Reload to see the current state.
error-duplicate = A record with this name exists already.
error-last-admin = At least one active account with the admin role must remain.
error-internal-title = Something went wrong
error-internal = An internal error occurred. It has been logged; please try again, and tell your administrator if it persists.
error-body-too-large = The submitted form is too large.
error-bad-language = Unknown language.

## Sign-in
login-title = Sign in
login-submit = Sign in
login-failed = Username or password is wrong.
login-refused = Too many failed sign-in attempts. For your protection, sign-in is paused; try again in { $minutes ->
    [one] one minute
   *[other] { $minutes } minutes
}.
login-setup-pending = No admin account exists yet. Open the one-time setup link that Datapump printed in its log at start, or create an admin with “datapump admin create”.
session-expired = Your session ended after a period of inactivity. Please sign in again.
logged-out = You have been signed out.
field-username = Username
field-password = Password
field-password-confirm = Repeat password
field-password-current = Current password
field-password-new = New password
field-role = Role

## First admin
setup-title = Create the first admin
setup-intro = Welcome to Datapump. Choose the username and password of the first administrator. This link works once.
setup-submit = Create admin and sign in
setup-invalid = This setup link is invalid or has already been used.
setup-invalid-help = Restart Datapump to have a fresh link printed in its log while no admin exists, or create an admin on the server:
setup-done = The first admin has been created. Welcome to Datapump!

## Passwords and usernames
password-rules = At least 12 characters. Passphrases are welcome; there are no rules about character classes.
password-too-short = The password must have at least 12 characters.
password-too-long = The password is too long (at most 1024 characters).
password-too-common = This password is too common or too simple. Choose another one.
password-contains-username = The password must not contain the username.
password-mismatch = The two passwords do not match.
password-current-wrong = The current password is wrong.
password-changed = Your password has been changed. Your other sessions have been signed out.
username-required = Enter a username.
username-too-long = The username is too long (at most 64 characters).
username-invalid = Use only letters, digits and . _ - @ in the username.
username-taken = This username is already taken.

## Dashboard
dashboard-title = Overview
dashboard-instance = This instance
dashboard-database = Database
dashboard-public-url = Public URL
dashboard-admins = Admin accounts
dashboard-admins-count = { $active } active of { $total }
dashboard-recent = Recent activity
dashboard-all-activity = Show the full audit log

## Account
account-title = My account
account-password = Change password
account-password-help = Enter your current password to confirm it is you. Your other sessions are signed out afterwards.
account-password-submit = Change password

## Audit log
audit-title = Audit log
audit-total = { $count ->
    [one] One entry
   *[other] { $count } entries
}, newest first.
audit-empty = Nothing has been recorded yet.
audit-when = When
audit-who = Who
audit-from = From
audit-action = Action
audit-target = Affects
audit-details = Details
pager-label = Pages
pager-newer = ← Newer
pager-older = Older →
pager-position = Page { $page } of { $pages }

## Admins
admins-title = Admin accounts
admins-new = New admin
admins-create = Create admin
admins-status = Status
admins-last-login = Last sign-in
admins-disabled = Disabled
admins-active = Active
admins-details = Details
admins-created = Created
admins-sessions = Active sessions
admins-edit = Role and access
admins-disable-label = Account disabled
admins-disable-help = A disabled admin cannot sign in, and their open sessions end at once.
admins-reset-password = Reset password
admins-reset-help = Setting a new password signs this admin out everywhere.
admins-reset-submit = Set new password
admins-end-sessions = Sign out everywhere
admins-end-sessions-confirm = End all sessions of this admin?
role-admin = Admin
role-viewer = Viewer
role-help = Admins can change everything, including other admins. Viewers see everything except secrets and change nothing.
role-invalid = Choose a valid role.
admin-created = Admin { $name } has been created.
admin-updated = The changes to { $name } have been saved.
admin-password-reset = A new password has been set for { $name }.
admin-sessions-ended = { $count ->
    [one] One session
   *[other] { $count } sessions
} of { $name } ended.
admin-cannot-disable-self = You cannot disable your own account.
admin-cannot-end-own-sessions = Use “Sign out” to end your own session.
admin-conflict = Another admin changed this account while you were editing it. The form now shows the current state; review it and save again.
