# Datapump — deutscher Katalog. Die Schlüssel sind in jeder Sprache gleich (ein Test prüft das).

## Layout
nav-label = Hauptnavigation
nav-dashboard = Übersicht
nav-admins = Administratoren
nav-audit = Protokoll
nav-account = Mein Konto
nav-logout = Abmelden
footer-tagline = Microsoft-365-Kalender in Ihre Datenbank
save = Speichern
welcome-user = Willkommen, { $name }!

## Fehler
error-status = Status { $status }
error-back = Zurück zur Übersicht
error-not-found-title = Nicht gefunden
error-not-found = Diese Seite oder dieser Datensatz existiert nicht (mehr).
error-forbidden-title = Nicht erlaubt
error-forbidden = Ihre Rolle erlaubt diese Aktion nicht. Betrachter können alles ansehen, aber nichts ändern.
error-csrf = Das Formular wurde abgelehnt, weil sein Sicherheitstoken fehlte oder veraltet war oder es von einer anderen Website kam. Es wurde nichts geändert. Laden Sie die Seite neu und versuchen Sie es noch einmal.
error-bad-request-title = Ungültige Anfrage
error-conflict-title = Konflikt
error-conflict = Jemand anderes hat diesen Datensatz inzwischen geändert. Laden Sie die Seite neu, um den aktuellen Stand zu sehen.
error-duplicate = Ein Datensatz mit diesem Namen existiert bereits.
error-last-admin = Mindestens ein aktives Konto mit der Rolle Administrator muss bestehen bleiben.
error-internal-title = Etwas ist schiefgegangen
error-internal = Ein interner Fehler ist aufgetreten. Er wurde protokolliert; bitte versuchen Sie es erneut und wenden Sie sich an Ihre Administration, falls er bestehen bleibt.
error-body-too-large = Das gesendete Formular ist zu groß.
error-bad-language = Unbekannte Sprache.

## Anmeldung
login-title = Anmelden
login-submit = Anmelden
login-failed = Benutzername oder Passwort ist falsch.
login-refused = Zu viele fehlgeschlagene Anmeldeversuche. Zu Ihrem Schutz ist die Anmeldung pausiert; versuchen Sie es in { $minutes ->
    [one] einer Minute
   *[other] { $minutes } Minuten
} erneut.
login-setup-pending = Es gibt noch kein Administratorkonto. Öffnen Sie den einmaligen Einrichtungslink, den Datapump beim Start in sein Log geschrieben hat, oder legen Sie mit „datapump admin create“ einen Administrator an.
session-expired = Ihre Sitzung wurde nach längerer Inaktivität beendet. Bitte melden Sie sich erneut an.
logged-out = Sie wurden abgemeldet.
field-username = Benutzername
field-password = Passwort
field-password-confirm = Passwort wiederholen
field-password-current = Aktuelles Passwort
field-password-new = Neues Passwort
field-role = Rolle

## Erster Administrator
setup-title = Ersten Administrator anlegen
setup-intro = Willkommen bei Datapump. Wählen Sie Benutzername und Passwort des ersten Administrators. Dieser Link funktioniert nur einmal.
setup-submit = Administrator anlegen und anmelden
setup-invalid = Dieser Einrichtungslink ist ungültig oder wurde bereits verwendet.
setup-invalid-help = Starten Sie Datapump neu, damit es einen frischen Link in sein Log schreibt, solange kein Administrator existiert, oder legen Sie auf dem Server einen Administrator an:
setup-done = Der erste Administrator wurde angelegt. Willkommen bei Datapump!

## Passwörter und Benutzernamen
password-rules = Mindestens 12 Zeichen. Passphrasen sind willkommen; Vorschriften zu Zeichenarten gibt es keine.
password-too-short = Das Passwort muss mindestens 12 Zeichen haben.
password-too-long = Das Passwort ist zu lang (höchstens 1024 Zeichen).
password-too-common = Dieses Passwort ist zu verbreitet oder zu einfach. Bitte wählen Sie ein anderes.
password-contains-username = Das Passwort darf den Benutzernamen nicht enthalten.
password-mismatch = Die beiden Passwörter stimmen nicht überein.
password-current-wrong = Das aktuelle Passwort ist falsch.
password-changed = Ihr Passwort wurde geändert. Ihre anderen Sitzungen wurden abgemeldet.
username-required = Bitte geben Sie einen Benutzernamen ein.
username-too-long = Der Benutzername ist zu lang (höchstens 64 Zeichen).
username-invalid = Verwenden Sie im Benutzernamen nur Buchstaben, Ziffern und . _ - @.
username-taken = Dieser Benutzername ist bereits vergeben.

## Übersicht
dashboard-title = Übersicht
dashboard-instance = Diese Instanz
dashboard-database = Datenbank
dashboard-public-url = Öffentliche URL
dashboard-admins = Administratorkonten
dashboard-admins-count = { $active } aktiv von { $total }
dashboard-recent = Letzte Aktivitäten
dashboard-all-activity = Vollständiges Protokoll anzeigen

## Konto
account-title = Mein Konto
account-password = Passwort ändern
account-password-help = Geben Sie Ihr aktuelles Passwort zur Bestätigung ein. Ihre anderen Sitzungen werden danach abgemeldet.
account-password-submit = Passwort ändern

## Protokoll
audit-title = Protokoll
audit-total = { $count ->
    [one] Ein Eintrag
   *[other] { $count } Einträge
}, neueste zuerst.
audit-empty = Bisher wurde nichts protokolliert.
audit-when = Wann
audit-who = Wer
audit-from = Von
audit-action = Aktion
audit-target = Betrifft
audit-details = Details
pager-label = Seiten
pager-newer = ← Neuer
pager-older = Älter →
pager-position = Seite { $page } von { $pages }

## Administratoren
admins-title = Administratorkonten
admins-new = Neuer Administrator
admins-create = Administrator anlegen
admins-status = Status
admins-last-login = Letzte Anmeldung
admins-disabled = Gesperrt
admins-active = Aktiv
admins-details = Details
admins-created = Angelegt
admins-sessions = Aktive Sitzungen
admins-edit = Rolle und Zugang
admins-disable-label = Konto gesperrt
admins-disable-help = Ein gesperrter Administrator kann sich nicht anmelden; seine offenen Sitzungen enden sofort.
admins-reset-password = Passwort zurücksetzen
admins-reset-help = Ein neues Passwort meldet diesen Administrator überall ab.
admins-reset-submit = Neues Passwort setzen
admins-end-sessions = Überall abmelden
admins-end-sessions-confirm = Alle Sitzungen dieses Administrators beenden?
role-admin = Administrator
role-viewer = Betrachter
role-help = Administratoren dürfen alles ändern, auch andere Administratoren. Betrachter sehen alles außer Geheimnissen und ändern nichts.
role-invalid = Bitte wählen Sie eine gültige Rolle.
admin-created = Administrator { $name } wurde angelegt.
admin-updated = Die Änderungen an { $name } wurden gespeichert.
admin-password-reset = Für { $name } wurde ein neues Passwort gesetzt.
admin-sessions-ended = { $count ->
    [one] Eine Sitzung
   *[other] { $count } Sitzungen
} von { $name } beendet.
admin-cannot-disable-self = Sie können Ihr eigenes Konto nicht sperren.
admin-cannot-end-own-sessions = Verwenden Sie „Abmelden“, um Ihre eigene Sitzung zu beenden.
admin-conflict = Ein anderer Administrator hat dieses Konto geändert, während Sie es bearbeitet haben. Das Formular zeigt jetzt den aktuellen Stand; prüfen Sie ihn und speichern Sie erneut.
