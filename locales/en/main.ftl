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
setup-invalid = This setup link is invalid, has expired (after 24 hours) or has already been used.
setup-invalid-help = Restart Datapump to have a fresh link printed in its log while no admin exists, or create an admin on the server:
setup-done = The first admin has been created. Welcome to Datapump!

## Passwords and usernames
password-rules = At least 12 characters. Passphrases are welcome; there are no rules about character classes.
password-too-short = The password must have at least 12 characters.
password-too-long = The password is too long (at most 1024 characters).
password-too-common = This password is too easy to guess: a common or leaked password, or one built from words, names, dates or keyboard patterns. A phrase of four or more unrelated words works well.
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

## Profiles
nav-profiles = Profiles
profiles-title = Profiles
profiles-new = New profile
profiles-empty = No profile yet. A profile holds an Entra ID app registration (client ID and secret) and the Microsoft 365 account that reads the calendars. Create one with the values from your app registration.
profiles-status = Status
profiles-account = Account
profiles-last-refresh = Last token refresh
profiles-secret-expiry = Secret or certificate expires
dashboard-no-profiles = No profile yet: create one to connect Microsoft 365.
field-profile-name = Name
field-client-id = Application (client) ID
field-client-secret = Client secret
field-secret-expires = Client secret expires on
field-tenant = Tenant
field-cloud = Cloud
field-custom-urls = Custom addresses (only for the cloud “Custom”)
field-login-base = Login address
field-graph-base = Graph address
field-redirect-uri = Redirect URI
field-notes = Notes
hint-client-id = From the app registration's overview page in the Microsoft Entra admin center.
hint-client-secret = The secret's value (not its ID), copied right after creating it. It is stored encrypted and never shown again.
hint-secret-expires = Entra shows the expiry next to the secret, usually 24 months after creation. Datapump warns 60, 30 and 7 days ahead.
hint-tenant = “common” for apps registered for any organization and personal accounts (as the setup guide does), or your tenant ID or domain.
hint-custom-urls = For private clouds or the Microsoft 365 simulator. Leave empty for the other clouds.
hint-redirect-uri = Must equal a redirect URI of the app registration exactly. Empty means { $url }.
cloud-global = Global (Microsoft 365)
cloud-usgov = US Government (GCC High, L4)
cloud-usgov-dod = US Government (DoD, L5)
cloud-china = China (21Vianet)
cloud-custom = Custom addresses
profile-name-required = Enter a name.
profile-name-too-long = The name is too long (at most 100 characters).
profile-name-taken = A profile with this name exists already.
profile-tenant-invalid = Enter “common”, “organizations”, a tenant ID (GUID) or a domain such as contoso.com.
profile-client-id-invalid = The application (client) ID is a GUID such as 6731de76-14a6-49ae-97bc-6eba6914391e.
profile-secret-required = Enter the client secret's value.
profile-secret-too-long = This is too long for a client secret.
profile-secret-looks-like-id = This looks like the secret's ID. Copy the secret's value instead (shown only right after it was created).
profile-date-invalid = Enter a date.
profile-url-invalid = Enter an address starting with https:// (or http:// for a local simulator), without query.
profile-notes-too-long = The notes are too long (at most 2000 characters).
profile-redirect-http-warning = Note: Entra accepts plain http:// redirect URIs only for localhost. Use https:// for any other host.
profile-created = Profile { $name } has been created. Next: test it and authorize the account.
profile-saved = Profile { $name } has been saved.
profile-reauthorize-after-change = The app registration changed: authorize the profile again.
profile-conflict = Another admin changed this profile while you were editing it. The form now shows the current state; review it and save again.
profile-secret-replaced = The new client secret has been stored.
profile-refresh-ok = Datapump obtained a new token with it: the profile works.
profile-refresh-failed = Datapump could not obtain a token yet; see the status below.
profile-deleted = Profile { $name } has been deleted.
profile-edit = Edit
profile-test = Test and authorize
profile-reauthorize = Authorize again
profile-retry = Try again now
profile-new-secret = New client secret
profile-delete = Delete
profile-delete-title = Delete profile { $name }?
profile-delete-help = The profile's client secret and tokens are deleted. The app registration in Entra ID is not touched.
profile-delete-confirm = Delete profile
profile-registration = App registration
profile-authorization = Authorization
profile-token-valid = Access token valid until
profile-authorized = Authorized
profile-secret-set = set on { $time }
profile-stale = no successful refresh for { $count } days
secret-expires-soon = expires in { $count ->
    [one] one day
   *[other] { $count } days
}
secret-expired = expired
secret-help = Create a new client secret under “Certificates & secrets” of the app registration, copy its value, and enter it here together with its expiry date.
status-new = Not authorized yet
status-ok = Working
status-needs-reauth = Re-authorization needed
status-secret-invalid = Replace the client secret
status-app-not-found = App not found
status-consent-missing = Consent missing
status-unreachable = Microsoft not reachable
status-config-error = Settings wrong
help-new = Click “Test and authorize” and sign in with the Microsoft 365 account that has read access to the calendars.
help-ok = The profile works: Datapump refreshes its token automatically.
help-needs-reauth = Microsoft no longer accepts the stored sign-in, for example because the account's password was changed or reset, its sessions were revoked, it was unused for 90 days, or multi-factor authentication is now required. Click “Authorize again” and sign in with the account.
help-secret-invalid = Microsoft refused the client secret: it is wrong or has expired. Create a new secret in the app registration and enter it with “New client secret”.
help-app-not-found = Microsoft does not know this application ID (yet). Check the ID; right after registering an app, changes take a few minutes to replicate — wait, then click “Try again now”.
help-consent-missing = The permissions have not been granted (or were revoked). In the app registration under “API permissions”, click “Grant admin consent”, then authorize again.
help-unreachable = Microsoft's sign-in service could not be reached for a while. Datapump keeps retrying with increasing pauses; check the server's internet access or proxy.
help-config-error = Microsoft refused the request because of the profile's settings (for example a redirect URI that is not registered, or a wrong tenant). Check the settings against the app registration.
result-title = Authorization confirmed
result-scopes = Granted permissions
result-token = Access token
result-token-value = { $prefix }… valid until { $time }
result-no-offline = Microsoft returned no refresh token: the permission offline_access is missing, so Datapump cannot work unattended. Add it to the app registration and authorize again.
result-missing-scope = The permission { $name } was not granted.
result-graph-error = Signed in, but reading the account's profile or calendars failed:
result-calendars = The account's calendars
result-default = default
scope-impact-user-read = Without it, searching mailboxes by name does not work (the address field still does).
scope-impact-calendars = Without it, calendars of rooms and other mailboxes cannot be read.
paste-title = Authorization in progress
paste-help = After signing in, Microsoft sends your browser to the redirect URI. If that page did not load (for example http://localhost:8000 on another computer), copy the full address from the browser's address bar and paste it here.
paste-field = Address the browser ended up on
paste-submit = Complete authorization
paste-invalid = This address contains no authorization result (it needs “code” and “state”). Copy the complete address from the address bar.
oauth-state-missing = This request carries no authorization state. Start the test again from the profile.
oauth-state-unknown = This authorization was not started in this browser session, or it has already been completed. Start the test again from the profile; nothing was stored.
oauth-state-expired = This authorization took longer than 10 minutes and has expired. Start the test again; nothing was stored.
oauth-state-reused = This authorization was already completed; a result can be used only once. Nothing was changed.
oauth-code-missing = Microsoft's answer contains no authorization code. Start the test again.
oauth-denied = The sign-in was cancelled or the permissions were declined ({ $code }). Nothing was stored. Try again and accept the requested permissions.
oauth-consent-required = The permissions have not been granted ({ $code }). Grant admin consent in the app registration, then try again.
oauth-interaction-required = Microsoft needs an interactive sign-in ({ $code }). Try again and complete all sign-in steps.
oauth-app-config = Microsoft refused the request ({ $code }): check the client ID, the redirect URI and the tenant against the app registration.
oauth-failed = The authorization failed ({ $code }). Nothing was stored.
oauth-exchange-failed = Microsoft did not accept the authorization ({ $code }).
oauth-exchange-transient = Microsoft could not be reached to complete the authorization. Try again in a moment.

## Connect and subscriptions
nav-subscriptions = Subscriptions
profile-connect = Connect: choose calendars
profile-subscriptions = { $count ->
    [0] no subscriptions
    [one] one subscription
   *[other] { $count } subscriptions
}
profile-delete-subscriptions = { $count ->
    [one] One calendar is subscribed through this profile. It is removed with the profile.
   *[other] { $count } calendars are subscribed through this profile. They are removed with the profile.
} What should happen to the events imported so far?
connect-title = Connect
connect-heading = Choose calendars with { $name }
connect-account = Signed-in account: { $name }
connect-profile-needs-attention = This profile needs attention first
connect-go-to-profile = Open the profile
connect-address = Mailbox address
field-address = Address
connect-lookup = Search
connect-primary-only = Because of a limitation of Microsoft Graph, only the primary calendar of a room or shared mailbox can be read.
connect-search = Search mailboxes
field-search = Part of a name or address
connect-search-submit = Search
connect-search-hint = Microsoft matches from the beginning of words: “ber” finds “Raum Berlin”, “erlin” does not. If nothing is found, enter the full address in the address field.
connect-my-calendars = My calendars
connect-rooms = Rooms list
connect-anonymized = Most upcoming meetings in this calendar show no subject, or the organizer's name instead: Exchange rewrites meetings delivered to this room. An Exchange administrator can switch this off:
connect-preview = Next events
connect-preview-empty = No events in the next four weeks.
connect-preview-failed = The events could not be read:
preview-when = When
preview-subject = Subject
preview-organizer = Organizer
connect-already-subscribed = This calendar is already subscribed through this profile.
connect-open-subscription = Open the subscription
connect-subscribe = Subscribe
connect-subscribe-submit = Subscribe this calendar
field-display-name = Display name
field-days-back = Days into the past
field-days-ahead = Days into the future
field-interval = Sync interval (minutes)
field-enabled = Import enabled
field-mask-private = Hide subject and details of private events
connect-not-found = No mailbox with the address { $name } was found. Check the spelling.
connect-no-mailbox = { $name } exists, but has no Exchange Online mailbox that Graph can read (inactive, on-premises, or not licensed).
connect-forbidden = The account { $account } may not read the calendar of { $name }. The mailbox owner (or an Exchange administrator) must grant the account read access to the calendar, for example:
connect-failed = The request failed:
connect-search-results = Mailboxes found
connect-search-none = Nothing found.
connect-search-count = { $count ->
    [one] One mailbox
   *[other] { $count } mailboxes
}
connect-kind = Kind
kind-room = Room
kind-person = Person
kind-unknown = Mailbox
connect-show-calendar = Show calendar
connect-search-permission = The mailbox list stays empty: the app registration needs the permission User.ReadBasic.All to list mailboxes. Add it (and grant consent), or enter the full address in the address field, which works without it.
connect-rooms-none = The tenant lists no rooms.
connect-rooms-permission = The rooms list needs the additional permission Place.Read.All with admin consent, which the setup guide does not include. Add it to the app registration and grant admin consent to use this list — or search by name or enter the room's address.
connect-personal-account = This profile is authorized with a personal Microsoft account (such as outlook.com). Such accounts have no directory: people search, the rooms list and other mailboxes do not exist there (Microsoft Graph does not support them for personal accounts). "My calendars" lists the account's own calendars and those shared with it. For room and team calendars, authorize the profile with a work or school account.
connect-calendars-permission = The account's calendars cannot be read: the permission Calendars.Read.Shared is missing.
connect-calendar = Calendar
connect-owner = Owner
connect-color = Color
pager-previous = ← Previous
pager-next = Next →
sub-name-invalid = Enter a display name (at most 100 characters).
sub-days-invalid = Enter a number of days between 0 and 1823 (back) or 1 and 1824 (ahead).
sub-window-too-long = Days back and days ahead together cover too much: Microsoft Graph reads at most 1825 days of a calendar at once (days back + today + days ahead). Shorten one of them.
sub-interval-invalid = Enter a number of minutes between 1 and 1440.
sub-calendar-unavailable = The calendar can no longer be read through this profile. Look it up again.
sub-created = { $name } is subscribed.
sub-saved = The changes to { $name } have been saved.
sub-conflict = Another admin changed this subscription while you were editing it. The form now shows the current state; review it and save again.
sub-paused = { $name } is paused.
sub-resumed = { $name } is imported again.
sub-deleted = The subscription { $name } has been deleted.
sub-delete-title = Delete the subscription { $name }?
sub-delete-question = What should happen to the events imported so far?
sub-delete-keep = Keep them in the database
sub-delete-remove = Remove them
sub-delete-confirm = Delete subscription
subs-filter-text = Search
subs-filter-any-profile = All profiles
subs-filter-all = All
subs-filter-active = Active
subs-filter-paused = Paused
subs-filter-failing = Failing
subs-filter-new = Not imported yet
subs-filter-apply = Show
subs-filter-empty = No subscription matches this filter.
subs-per-page = Per page
subs-showing = { $count ->
    [0] No subscriptions
   *[other] { $first }–{ $last } of { $count } subscriptions
}
subs-select-page = Select all on this page
subs-bulk-title = With the subscriptions
subs-bulk-selected = checked above
subs-bulk-matching = all { $count } matching the filter (every page)
subs-bulk-action = Action
subs-bulk-interval-action = Set the sync interval
subs-bulk-delete-action = Delete…
subs-bulk-apply = Apply
subs-bulk-none = No subscription was chosen: check some rows, or choose “all matching the filter”.
subs-bulk-unknown = This action is unknown; nothing was changed.
subs-bulk-paused = { $count } paused ({ $unchanged } were paused already, { $missing } no longer exist).
subs-bulk-resumed = { $count } resumed ({ $unchanged } were active already, { $missing } no longer exist).
subs-bulk-synced = { $count } will be imported within a few seconds ({ $missing } no longer exist).
subs-bulk-interval = The sync interval of { $count } was changed ({ $unchanged } had it already, { $missing } no longer exist).
subs-bulk-deleted = { $count } subscriptions deleted ({ $missing } no longer existed).
subs-bulk-delete-title = Delete { $count } subscriptions?
subs-bulk-delete-more = … and { $count } more.
subs-bulk-delete-choose = Choose what happens to the imported events.
subs-pages = Pages
subs-page-prev = Previous
subs-page-next = Next
subs-page-of = Page { $page } of { $pages }
subs-title = Subscriptions
subs-empty = No calendar is subscribed yet. Open a working profile and choose “Connect”.
subs-mailbox = Mailbox
subs-profile = Profile
subs-last-sync = Last import
subs-next-sync = Next import
subs-events = Events
subs-enabled = Active
subs-paused = Paused
subs-calendar = Calendar
subs-window = Import window
subs-window-value = { $back } days back, { $ahead } days ahead
subs-created = Subscribed
subs-pause = Pause
subs-resume = Resume
subs-settings = Settings

## Import
subs-sync-now = Sync now
sub-sync-requested = { $name } will be imported within a few seconds.
sub-anonymized = Most upcoming meetings of this room have no subject or show the organizer's name instead: Exchange rewrites meetings delivered to the room (AddOrganizerToSubject / DeleteSubject). An Exchange administrator can switch this off; it applies to meetings booked or updated afterwards:
sub-anonymized-short = subjects hidden by the room
sub-series-unreadable = Some recurring meetings in this calendar are private, and the profile's account may not open private items: Microsoft shows it their times only. Their occurrences are imported with times, type and series id; subject, organizer and attendees stay empty. Exchange lets only delegates view private items (a delegate may also edit the calendar); if that is acceptable, an Exchange administrator can grant it, and the details arrive with the next full import:
runs-title = Recent imports
runs-none = Not imported yet.
runs-chart = Duration of recent imports
runs-started = Started
runs-kind = Kind
runs-duration = Duration
runs-pages = Pages
runs-changes = Changes
runs-requests = Requests
runs-quiet-title = Imports without changes, per hour
runs-quiet-help = Imports that changed nothing are counted per hour; only the latest of them is listed above.
runs-quiet-hour = Hour from
runs-quiet-runs = Imports
runs-quiet-durations = Duration avg / longest
runs-waits = Throttled
dashboard-attention = Needs attention
dashboard-attention-none = All subscriptions are importing normally.
attention-failing = import failing
attention-paused = paused by its profile
attention-stale = not imported for { $minutes } minutes
attention-anonymized = subjects hidden by the room

sync-hint-detail = Microsoft's answer:
sync-hint-forbidden = The profile's account may not read this calendar. The mailbox owner or an Exchange administrator must grant it read access (for example `Add-MailboxFolderPermission -Identity room@example.com:\Calendar -User account@example.com -AccessRights Reviewer`); changes take a few minutes to replicate, and Datapump keeps trying.
sync-hint-not-found = The mailbox or calendar no longer exists (or was renamed). Delete this subscription, or look the mailbox up again under Connect.
sync-hint-unauthorized = Microsoft refused the profile's tokens even after a refresh. Open the profile and authorize it again.
sync-hint-throttled = Microsoft is throttling requests for this mailbox. Datapump waits as asked and tries again; nothing is lost.
sync-hint-profile = The profile needs attention (for example an expired client secret or a changed password). Open the profile: it says what to do. Imports resume by themselves afterwards.
sync-hint-network = Microsoft could not be reached. Check the server's network and proxy settings; Datapump tries again.
sync-hint-deadline = The import took too long and was stopped; it continues where it left off on the next run.
sync-hint-graph = Microsoft Graph gave an unexpected answer. Datapump tries again; if this persists, the detail below helps support.
sync-hint-internal = Datapump could not store the import (database error). See the server log; Datapump tries again.
profile-url-https-required = The address must start with https://: Datapump sends the secret and the tokens there. http:// is allowed only for this machine (localhost).
profile-secret-again = Enter the client secret again: the cloud, sign-in or Graph address changes, and the stored secret is never sent to a new address.
hint-client-secret-edit = Leave empty to keep the stored secret. Required when the cloud, sign-in or Graph address changes: the secret only goes to the addresses it was entered for.
password-current-throttled = Too many wrong passwords: try again in a few minutes.
login-busy = There are very many sign-in attempts right now. Try again in a minute.
profile-disconnect = Disconnect account
profile-disconnect-help = Deletes the stored tokens at once. The profile and its subscriptions stay, paused until the profile is authorized again.
profile-disconnected = The account is disconnected: its tokens are deleted, and the subscriptions pause until the profile is authorized again.

reauth-title = Confirm it's you
reauth-help = This action changes credentials or administrators. Enter your password again; it then covers such actions for five minutes.
reauth-submit = Continue
oauth-mix-up = This answer from the sign-in belongs to another profile or another identity provider. Nothing was exchanged or stored; start the authorization again from the profile.
profile-own-redirect = This profile's own redirect URI is { $url }. Registered in the app registration and entered here, it accepts only this profile's sign-ins (recommended when profiles use different app registrations, tenants or login addresses).
feed-title = Calendar feed (ICS)
feed-help = A secret address with this calendar's schedule in iCalendar format, for Outlook ("Add calendar → Subscribe from web"), door signs and other calendar clients. It contains subjects, times, organizers and locations, but no attendees or texts. Anyone who has the address can read it.
feed-create = Create feed address
feed-replace = New feed address
feed-disable = Turn the feed off
feed-created = The feed's address. Copy it now: it is shown only this once (Datapump keeps only a fingerprint of it). A new address makes the previous one stop working.
feed-active = A feed address exists since { $time }.
feed-disabled = The feed is turned off; its address no longer works.
feed-private = Private appointment
feed-untitled = (no subject)
nav-tokens = API
tokens-title = API tokens
tokens-help = Reception products and door signs read Datapump's data over the read-only API at { $url } (rooms, a room's events, the change feed, the day's visitors) with a token from here, sent as "Authorization: Bearer <token>". A token reads every subscription or only those chosen for it.
tokens-none = No tokens yet.
tokens-name = Name
tokens-name-example = Reception desk, lobby screen
tokens-name-invalid = Give the token a name of up to 100 characters.
tokens-scope = May read
tokens-scope-all = All subscriptions, also future ones
tokens-scope-invalid = Choose "all subscriptions" or at least one subscription.
tokens-created-by = Created
tokens-last-use = Last used
tokens-uses = Uses
tokens-revoke = Revoke
tokens-revoked-at = revoked { $time }
tokens-revoked = The token "{ $name }" is revoked; it no longer works.
tokens-new = New token
tokens-create = Create token
tokens-created = The new token. Copy it now: it is shown only this once (Datapump keeps only a fingerprint of it).
tokens-endpoints = Endpoints
tokens-openapi = The OpenAPI 3.1 document (for code generators and API tools)

# Webhooks
webhook-title = Webhook
webhook-none = none
webhook-ok = delivering
webhook-failing = { $count } failed attempts
webhook-help = Datapump pushes the change feed to this consumer's address as it happens: a POST with JSON (the same entries as /api/v1/changes, for this token's subscriptions), signed with a secret of its own. The address receives every change at least once, in commit order; it answers 2xx to acknowledge, and drops repeats by seq. A new webhook starts with the changes after it was created: read the current events from the API first.
webhook-status = Deliveries
webhook-url = Address
webhook-position = Position in the feed
webhook-position-value = after { $seq } ({ $behind } newer changes in the feed, of all subscriptions)
webhook-delivered = Changes delivered
webhook-last-success = Last acknowledged delivery
webhook-last-failure = Last failure
webhook-next-attempt = next attempt
webhook-gap = Changes were deleted from the feed (past its retention) before they could be delivered. The next delivery carries "resync": true: the consumer must read the events again from the API.
webhook-gap-short = missed changes: re-read needed
webhook-retry = Try again now
webhook-retrying = Deliveries to { $name } are tried again now.
webhook-new-secret = New signing secret
webhook-delete = Remove webhook
webhook-deleted = The webhook of { $name } is removed; nothing is sent there any more.
webhook-change = Change the address
webhook-add = Add a webhook
webhook-save = Save
webhook-secret = Signing secret
webhook-secret-shown = The signing secret. Give it to the receiver now: it is shown only this once. The previous secret no longer works.
webhook-url-invalid = Enter a complete address such as https://reception.example.com/datapump (without user name or password).
webhook-url-https = Deliveries contain meeting subjects: use https (plain http only to this machine).
webhook-verify = Checking a delivery
webhook-verify-help = The receiver computes HMAC-SHA256 with the signing secret over the timestamp t, a dot and the raw body, compares it with v1 in constant time, and refuses timestamps older than five minutes (that also refuses replayed deliveries).
dashboard-webhooks = Webhooks that need attention

# Data minimisation
field-stored = Stored fields
field-stored-help = Times, subject, organizer, location and attendee names are always stored. What you turn off is removed from the events already stored at once; turned on again, it comes back with the next (full) import.
field-store-body = Body preview
field-store-addresses = Attendee addresses (off: only the domain, e.g. @partner.example, so visitors are still recognised)
field-store-online = Online-meeting link
field-store-categories = Categories
field-retention = Keep events for this many days after they ended
field-retention-help = Empty: as far back as the window reaches. Shorter than "days back", it shortens the window. Events kept from this subscription after it is deleted are removed once they are older.
sub-retention-invalid = Enter a number of days from 0 to 36500, or leave it empty.

# Rooms
nav-rooms = Rooms
rooms-title = Rooms
rooms-help = Building, floor, capacity and address of the subscribed rooms, for the reader of the database (table rooms, the API's rooms). They come from Microsoft's room directory for profiles whose account may read it, refreshed every six hours, or an admin enters them; an admin's entry is kept until it is handed back to the directory.
rooms-refresh = Read the room directory now
rooms-refreshed-at = Room directory last read: { $time }
rooms-refreshed = Room directory read: { $matched } subscriptions found in it, { $updated } updated.
rooms-refresh-failed = The room directory could not be read ({ $reasons }); nothing was changed.
rooms-no-permission = The account of profile “{ $profile }” may not read the room directory. To have building, floor and capacity filled in, add the delegated permission Place.Read.All to the app registration, grant admin consent for the organisation, and authorise the profile again. Until then, enter the data here.
rooms-none = No subscriptions yet.
rooms-building = Building
rooms-floor = Floor
rooms-floor-number = Floor number
rooms-floor-label = Floor label (e.g. "Ground floor")
rooms-capacity = Capacity
rooms-address = Address
rooms-name = Name in the directory
rooms-source = Source
rooms-source-admin = entered by an admin
rooms-source-directory = room directory
rooms-source-none = not known
rooms-entered-by = Entered by { $name }
rooms-from-directory = From Microsoft's room directory
rooms-edit-help = Saving makes this the room's data; the directory no longer changes it.
rooms-use-directory = Use the room directory again
rooms-saved = The data of { $name } is saved.
rooms-reset = { $name } follows the room directory again.
rooms-text-too-long = At most 200 characters.
rooms-number-invalid = Enter a whole number in the allowed range, or leave it empty.

# Internal domains
domains-title = Internal domains
domains-help = Attendees at these domains are colleagues (kind “internal”); everyone else is a visitor (“external”) in event_attendees and expected_visitors. The domains of the subscribed mailboxes and the authorised accounts count by themselves; the tenants' verified domains are read from Microsoft every six hours where the account may (it needs the delegated permission User.Read, which new app registrations carry). Changes reclassify every stored attendee at once.
domains-effective = In effect
domains-none = None yet.
domains-from-mailboxes = subscribed mailbox or authorised account
domains-from-admin = entered here
domains-from-tenant = verified domain of the tenant
domains-from-environment = DATAPUMP_INTERNAL_DOMAINS
domains-own = Further internal domains
domains-own-label = One domain per line (e.g. subsidiaries)
domains-invalid = Not a domain: { $values }. Nothing was saved.
domains-too-many = At most 500 domains.
domains-saved = The internal domains are saved; attendees are classified again.
domains-refresh = Read the tenants' verified domains now
domains-refreshed = Verified domains read for { $count } profiles.
domains-refresh-failed = Not every tenant's domains could be read ({ $reasons }); what was read before stays.
rooms-room-list = Room list

## Application profiles (client credentials, no user)
profiles-new-application = New application profile
field-profile-kind = Kind
kind-delegated = Delegated (a Microsoft 365 account authorizes once)
kind-application = Application (no user, application permissions)
profile-kind-invalid = Choose delegated or application.
profile-kind-delegated-intro = Delegated: a Microsoft 365 account that may read the calendars authorizes this profile once; Datapump then reads what that account may read.
profile-kind-application-intro = Application: the app registration signs in itself with its client secret (client credentials, no user). It needs the application permission Calendars.Read with admin consent, scoped to the room mailboxes in Exchange Online. No account, no password that can change, no refresh token that can expire.
hint-tenant-application = Your tenant ID or domain (for example contoso.onmicrosoft.com). Required: without a user, only the tenant says whose mailboxes these are.
profile-tenant-specific-required = An application profile needs your tenant ID or domain; “common”, “organizations” and “consumers” name no tenant.
profile-test-app = Get a token now
profile-app-access = Application access
profile-app-roles = Application permissions (roles)
profile-app-roles-none = none granted in Entra
profile-app-role-granted = granted
profile-app-role-missing-required = not in the token. Fine if Exchange Online’s RBAC for Applications grants it (scoped to the rooms: recommended); otherwise add it under “API permissions” as an application permission and grant admin consent (then it reaches every mailbox). With neither, every mailbox answers 403.
profile-app-role-missing-optional = not granted (optional: rooms with building and floor, directory lookups)
help-app-new = Get a token to check the app registration, its secret and its application permissions.
help-app-consent-missing = The app-only token lacks an application permission Datapump needs (see below). Add it under “API permissions” as an application permission, click “Grant admin consent”, then “Get a token now”.
help-app-token-refused = The identity platform refused the app's credentials. Check the client secret and the tenant, then “Get a token now”.
oauth-not-delegated = This is an application profile: it signs in without an account. Use “Get a token now” on its page.
kind-application-short = application, no account
scope-title = Which mailboxes the app can read
scope-intro = An application permission reaches every mailbox in the tenant unless Exchange Online limits it. The check reads one room the app must read and one mailbox it must be refused (403). Changes to the scope take a while to apply: Microsoft says up to two hours.
scope-never = Not checked yet.
scope-room = A room it must read
scope-outside = A mailbox it must not read
scope-outside-hint = An existing mailbox outside the scope, for example a person's. Datapump only reads whether access is refused.
scope-check = Check the scope
scope-scoped = Scoped: the room was read and the other mailbox was refused.
scope-unscoped = Not scoped: the app could read the mailbox outside the rooms — it can read every mailbox in the tenant.
scope-room-unreadable = The room could not be read: the scope leaves it out, or the change has not applied yet.
scope-failed = The check could not be made; see the detail.
scope-address-invalid = Enter two mailbox addresses (name@domain).
scope-address-same = The two mailboxes must differ.
scope-not-application = Only application profiles have a scope check.
scope-rbac-title = RBAC for Applications (recommended)
scope-rbac-intro = In Exchange Online PowerShell, as an Exchange administrator. Afterwards remove the admin consent for Calendars.Read in Entra: grants in Entra reach every mailbox and add up with the scoped one.
scope-policy-title = Application access policy (legacy)
scope-policy-intro = Only for tenants that already use application access policies; Microsoft says not to create new ones. Replace rooms@contoso.com with a mail-enabled security group of the rooms.
dashboard-unscoped = Application profiles that can read every mailbox
scope-room-list-title = Or only the rooms of the room list “{ $name }”
kind-delegated-short = delegated account

# Certificate credentials (application profiles)
field-credential = Credential
credential-certificate = Certificate
credential-certificate-generate = Certificate — Datapump generates the key pair (recommended)
credential-secret = Client secret
hint-credential-certificate = Datapump creates an RSA key pair and a self-signed certificate valid for two years. The private key is stored encrypted and never leaves Datapump; you upload the certificate to the app registration under “Certificates & secrets → Certificates”.
hint-credential-certificate-edit = This profile signs in with a certificate. Replace it with “New credential”.
hint-client-secret-application = Only with “Client secret”: the secret's value (not its ID). It is stored encrypted and never shown again.
profile-credential-invalid = Choose a certificate or a client secret (certificates only for application profiles).
profile-new-credential = New credential
certificate-expires = Certificate expires on
certificate-title = Certificate
certificate-subject = Subject
certificate-thumbprint = Thumbprint (SHA-1)
certificate-valid = Valid
certificate-upload-to-entra = Upload this certificate in the Entra admin center: App registrations → this app → Certificates & secrets → Certificates → Upload certificate. Entra then lists the same thumbprint. Then click “Get a token now”.
certificate-download = Download certificate (.pem)
certificate-generated = A new certificate was generated (thumbprint { $thumbprint }). Download it and upload it to the app registration before getting a token.
certificate-stored = The certificate is stored (thumbprint { $thumbprint }). Entra must list the same thumbprint under “Certificates & secrets”.
certificate-not-accepted-yet = Microsoft did not accept the certificate yet. Upload it to the app registration, then click “Get a token now”.
certificate-delegated = Certificates are for application profiles; delegated profiles sign in with a client secret.
certificate-generate-title = Generate a new certificate
certificate-generate-help = Datapump creates a new key pair and certificate and uses it from now on; the previous credential is no longer used. Upload the new certificate to the app registration right away.
certificate-generate = Generate certificate
certificate-upload-title = Upload a certificate
certificate-upload-help = A PEM file with the certificate and its private key (“BEGIN CERTIFICATE” and “BEGIN PRIVATE KEY” or “BEGIN RSA PRIVATE KEY”), or a PFX/PKCS#12 file as Export-PfxCertificate writes it. RSA with at least 2048 bits.
certificate-upload = Upload
field-certificate-file = Certificate file (.pem or .pfx)
field-pfx-password = PFX password
hint-pfx-password = Only for PFX files. It is used once to open the file and not stored.
certificate-upload-missing = Choose a file to upload.
certificate-upload-unreadable = The upload could not be read. Try again.
certificate-error-unreadable = The file is neither a PEM nor a PFX file.
certificate-error-no-certificate = The file holds no certificate.
certificate-error-no-key = The file holds no private key. Datapump needs the certificate together with its private key (export the PFX “with private key”).
certificate-error-locked = The PFX file could not be opened: the password is wrong, or the file is encrypted in a way Datapump does not support. An encrypted PEM key must be decrypted first.
certificate-error-mismatch = The private key does not belong to the certificate.
certificate-error-not-rsa = The key is not an RSA key. Entra certificate credentials need RSA.
certificate-error-short = The RSA key is shorter than 2048 bits.
certificate-error-expired = The certificate has expired.
help-cert-not-registered = Microsoft does not know this certificate: it is not (yet) uploaded to the app registration, or another one is. Download the certificate below, upload it under “Certificates & secrets → Certificates”, then “Get a token now”.
help-cert-expired = The certificate has expired. Generate or upload a new one with “New credential” and upload it to the app registration.
help-cert-invalid = Microsoft refused the certificate. Check that the certificate in the app registration is the one shown below (same thumbprint), then “Get a token now”.
help-assertion-time = Microsoft refused the signed request as outside its time range: the server's clock is probably wrong. Synchronise the clock (NTP), then “Get a token now”.

# Room lists subscribed whole
nav-room-lists = Room lists
connect-room-lists = Room lists
connect-room-lists-help = Subscribe a whole room list in one step: each of its rooms is subscribed with these settings, rooms added to the list later are picked up automatically, and rooms removed from it are paused (their events stay).
connect-room-lists-none = The directory has no room lists.
connect-room-list-subscribe = Subscribe whole list
room-list-form-invalid = The room list could not be subscribed: check the days and the interval.
room-list-subscribed-already = This profile follows that room list already.
room-list-unreadable = The room list { $name } could not be read; nothing was changed: { $reasons }
room-list-checked = Room list { $name } read: { $count } rooms newly subscribed, { $updated } paused.
room-list-rooms-failed = Some rooms could not be subscribed: { $reasons }
room-list-deleted = Datapump no longer follows the room list { $name }. Its rooms stay subscribed.
room-lists-title = Subscribed room lists
room-lists-help = Each list is read every 15 minutes. Subscribe a list from a profile's “Connect” page (Rooms).
room-lists-none = No room list is subscribed.
room-lists-check = Read now
room-lists-delete = Stop following
room-lists-delete-help = The rooms stay subscribed; new rooms of the list are no longer added.
room-lists-profile = Through profile { $name }
room-lists-checked = last read { $time }
room-lists-error = The last read failed; nothing was changed:
room-lists-empty = No rooms yet.
room-lists-membership = In the list
room-lists-member = in the list
room-lists-removed = removed from the list on { $time } — paused
room-lists-paused = { $count ->
    [one] One room was removed from the list and is paused.
   *[other] { $count } rooms were removed from the list and are paused.
}
sub-removed-from-list = This room was removed from its subscribed room list on { $time } and is paused; its events stay. It resumes when the room is back in the list (or resume it here).
help-app-not-installed = Microsoft does not know this app in the tenant: it is not installed there, or nobody granted it consent yet (or the client ID or tenant is wrong). A global or privileged role administrator of the tenant opens the admin consent link below and accepts; then “Get a token now”.
profile-admin-consent = Admin consent for the whole tenant:
profile-created-app = Profile { $name } has been created. Next: get a token to check the app registration.
help-app-new-certificate = Upload the certificate below to the app registration (“Certificates & secrets → Certificates”), then get a token to check it and the application permissions.
help-app-no-calendar-access = Microsoft Graph refused every mailbox, and the token carries no calendar permission: neither Entra (the application permission Calendars.Read with admin consent) nor Exchange Online (RBAC for Applications, PowerShell below) grants this app access. Grant one — scoped to the rooms is recommended —, allow for replication (up to two hours), then “Get a token now”.
connect-room = Room
connect-room-list-rooms-failed = The rooms of this list could not be read:
