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
setup-invalid = Dieser Einrichtungslink ist ungültig, abgelaufen (nach 24 Stunden) oder wurde bereits verwendet.
setup-invalid-help = Starten Sie Datapump neu, damit es einen frischen Link in sein Log schreibt, solange kein Administrator existiert, oder legen Sie auf dem Server einen Administrator an:
setup-done = Der erste Administrator wurde angelegt. Willkommen bei Datapump!

## Passwörter und Benutzernamen
password-rules = Mindestens 12 Zeichen. Passphrasen sind willkommen; Vorschriften zu Zeichenarten gibt es keine.
password-too-short = Das Passwort muss mindestens 12 Zeichen haben.
password-too-long = Das Passwort ist zu lang (höchstens 1024 Zeichen).
password-too-common = Dieses Passwort ist zu leicht zu erraten: ein verbreitetes oder geleaktes Passwort oder eines aus Wörtern, Namen, Daten oder Tastaturmustern. Ein Satz aus vier oder mehr unzusammenhängenden Wörtern eignet sich gut.
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

## Profile
nav-profiles = Profile
profiles-title = Profile
profiles-new = Neues Profil
profiles-empty = Noch kein Profil. Ein Profil enthält eine App-Registrierung in Entra ID (Client-ID und geheimen Schlüssel) und das Microsoft-365-Konto, das die Kalender liest. Legen Sie eines mit den Werten Ihrer App-Registrierung an.
profiles-status = Status
profiles-account = Konto
profiles-last-refresh = Letzte Token-Erneuerung
profiles-secret-expiry = Schlüssel bzw. Zertifikat läuft ab
dashboard-no-profiles = Noch kein Profil: Legen Sie eines an, um Microsoft 365 anzubinden.
field-profile-name = Name
field-client-id = Anwendungs-ID (Client)
field-client-secret = Geheimer Clientschlüssel
field-secret-expires = Geheimer Schlüssel läuft ab am
field-tenant = Mandant
field-cloud = Cloud
field-custom-urls = Eigene Adressen (nur für die Cloud „Eigene Adressen“)
field-login-base = Anmeldeadresse
field-graph-base = Graph-Adresse
field-redirect-uri = Umleitungs-URI
field-notes = Notizen
hint-client-id = Von der Übersichtsseite der App-Registrierung im Microsoft Entra Admin Center.
hint-client-secret = Der „Wert“ des Schlüssels (nicht seine ID), direkt nach dem Erstellen kopiert. Er wird verschlüsselt gespeichert und nie wieder angezeigt.
hint-secret-expires = Entra zeigt das Ablaufdatum neben dem Schlüssel an, meist 24 Monate nach dem Erstellen. Datapump warnt 60, 30 und 7 Tage vorher.
hint-tenant = „common“ für Apps, die für beliebige Organisationen und persönliche Konten registriert sind (wie in der Einrichtungsanleitung), sonst Ihre Mandanten-ID oder Domäne.
hint-custom-urls = Für private Clouds oder den Microsoft-365-Simulator. Für die anderen Clouds leer lassen.
hint-redirect-uri = Muss exakt einer Umleitungs-URI der App-Registrierung entsprechen. Leer bedeutet { $url }.
cloud-global = Global (Microsoft 365)
cloud-usgov = US-Regierung (GCC High, L4)
cloud-usgov-dod = US-Regierung (DoD, L5)
cloud-china = China (21Vianet)
cloud-custom = Eigene Adressen
profile-name-required = Bitte geben Sie einen Namen ein.
profile-name-too-long = Der Name ist zu lang (höchstens 100 Zeichen).
profile-name-taken = Ein Profil mit diesem Namen gibt es bereits.
profile-tenant-invalid = Geben Sie „common“, „organizations“, eine Mandanten-ID (GUID) oder eine Domäne wie contoso.com ein.
profile-client-id-invalid = Die Anwendungs-ID (Client) ist eine GUID wie 6731de76-14a6-49ae-97bc-6eba6914391e.
profile-secret-required = Bitte geben Sie den Wert des geheimen Schlüssels ein.
profile-secret-too-long = Das ist zu lang für einen geheimen Schlüssel.
profile-secret-looks-like-id = Das sieht aus wie die ID des Schlüssels. Kopieren Sie stattdessen seinen „Wert“ (wird nur direkt nach dem Erstellen angezeigt).
profile-date-invalid = Bitte geben Sie ein Datum ein.
profile-url-invalid = Geben Sie eine Adresse ein, die mit https:// beginnt (oder http:// für einen lokalen Simulator), ohne Abfrageteil.
profile-notes-too-long = Die Notizen sind zu lang (höchstens 2000 Zeichen).
profile-redirect-http-warning = Hinweis: Entra akzeptiert einfache http://-Umleitungs-URIs nur für localhost. Verwenden Sie für andere Hosts https://.
profile-created = Profil { $name } wurde angelegt. Als Nächstes: testen und das Konto autorisieren.
profile-saved = Profil { $name } wurde gespeichert.
profile-reauthorize-after-change = Die App-Registrierung hat sich geändert: Autorisieren Sie das Profil erneut.
profile-conflict = Ein anderer Administrator hat dieses Profil geändert, während Sie es bearbeitet haben. Das Formular zeigt jetzt den aktuellen Stand; prüfen Sie ihn und speichern Sie erneut.
profile-secret-replaced = Der neue geheime Schlüssel wurde gespeichert.
profile-refresh-ok = Datapump hat damit ein neues Token erhalten: Das Profil funktioniert.
profile-refresh-failed = Datapump konnte noch kein Token erhalten; siehe Status unten.
profile-deleted = Profil { $name } wurde gelöscht.
profile-edit = Bearbeiten
profile-test = Testen und autorisieren
profile-reauthorize = Erneut autorisieren
profile-retry = Jetzt erneut versuchen
profile-new-secret = Neuer geheimer Schlüssel
profile-delete = Löschen
profile-delete-title = Profil { $name } löschen?
profile-delete-help = Geheimer Schlüssel und Tokens des Profils werden gelöscht. Die App-Registrierung in Entra ID bleibt unberührt.
profile-delete-confirm = Profil löschen
profile-registration = App-Registrierung
profile-authorization = Autorisierung
profile-token-valid = Zugriffstoken gültig bis
profile-authorized = Autorisiert
profile-secret-set = gesetzt am { $time }
profile-stale = seit { $count } Tagen keine erfolgreiche Erneuerung
secret-expires-soon = läuft in { $count ->
    [one] einem Tag
   *[other] { $count } Tagen
} ab
secret-expired = abgelaufen
secret-help = Erstellen Sie in der App-Registrierung unter „Zertifikate und Geheimnisse“ einen neuen geheimen Clientschlüssel, kopieren Sie seinen Wert und geben Sie ihn hier mit seinem Ablaufdatum ein.
status-new = Noch nicht autorisiert
status-ok = Funktioniert
status-needs-reauth = Erneute Autorisierung nötig
status-secret-invalid = Geheimen Schlüssel ersetzen
status-app-not-found = App nicht gefunden
status-consent-missing = Zustimmung fehlt
status-unreachable = Microsoft nicht erreichbar
status-config-error = Einstellungen fehlerhaft
help-new = Klicken Sie auf „Testen und autorisieren“ und melden Sie sich mit dem Microsoft-365-Konto an, das Lesezugriff auf die Kalender hat.
help-ok = Das Profil funktioniert: Datapump erneuert sein Token automatisch.
help-needs-reauth = Microsoft akzeptiert die gespeicherte Anmeldung nicht mehr, zum Beispiel weil das Passwort des Kontos geändert oder zurückgesetzt wurde, seine Sitzungen widerrufen wurden, es 90 Tage ungenutzt war oder nun mehrstufige Authentifizierung verlangt wird. Klicken Sie auf „Erneut autorisieren“ und melden Sie sich mit dem Konto an.
help-secret-invalid = Microsoft hat den geheimen Schlüssel abgelehnt: Er ist falsch oder abgelaufen. Erstellen Sie in der App-Registrierung einen neuen und tragen Sie ihn unter „Neuer geheimer Schlüssel“ ein.
help-app-not-found = Microsoft kennt diese Anwendungs-ID (noch) nicht. Prüfen Sie die ID; direkt nach der Registrierung brauchen Änderungen einige Minuten zur Replikation – warten Sie und klicken Sie dann auf „Jetzt erneut versuchen“.
help-consent-missing = Die Berechtigungen wurden nicht erteilt (oder widerrufen). Klicken Sie in der App-Registrierung unter „API-Berechtigungen“ auf „Administratorzustimmung erteilen“ und autorisieren Sie dann erneut.
help-unreachable = Der Anmeldedienst von Microsoft war eine Zeit lang nicht erreichbar. Datapump versucht es mit wachsenden Pausen weiter; prüfen Sie den Internetzugang oder Proxy des Servers.
help-config-error = Microsoft hat die Anfrage wegen der Profileinstellungen abgelehnt (zum Beispiel eine nicht registrierte Umleitungs-URI oder ein falscher Mandant). Vergleichen Sie die Einstellungen mit der App-Registrierung.
result-title = Autorisierung bestätigt
result-scopes = Erteilte Berechtigungen
result-token = Zugriffstoken
result-token-value = { $prefix }… gültig bis { $time }
result-no-offline = Microsoft hat kein Aktualisierungstoken geliefert: Die Berechtigung offline_access fehlt, daher kann Datapump nicht unbeaufsichtigt arbeiten. Fügen Sie sie der App-Registrierung hinzu und autorisieren Sie erneut.
result-missing-scope = Die Berechtigung { $name } wurde nicht erteilt.
result-graph-error = Angemeldet, aber das Lesen von Profil oder Kalendern des Kontos ist fehlgeschlagen:
result-calendars = Kalender des Kontos
result-default = Standard
scope-impact-user-read = Ohne sie funktioniert die Suche nach Postfächern über den Namen nicht (die Adresseingabe schon).
scope-impact-calendars = Ohne sie können Kalender von Räumen und anderen Postfächern nicht gelesen werden.
paste-title = Autorisierung läuft
paste-help = Nach der Anmeldung schickt Microsoft Ihren Browser zur Umleitungs-URI. Falls diese Seite nicht geladen wurde (zum Beispiel http://localhost:8000 auf einem anderen Rechner), kopieren Sie die vollständige Adresse aus der Adresszeile des Browsers und fügen Sie sie hier ein.
paste-field = Adresse, bei der der Browser gelandet ist
paste-submit = Autorisierung abschließen
paste-invalid = Diese Adresse enthält kein Autorisierungsergebnis (nötig sind „code“ und „state“). Kopieren Sie die vollständige Adresse aus der Adresszeile.
oauth-state-missing = Diese Anfrage enthält keinen Autorisierungsstatus. Starten Sie den Test erneut vom Profil aus.
oauth-state-unknown = Diese Autorisierung wurde nicht in dieser Browsersitzung gestartet oder ist bereits abgeschlossen. Starten Sie den Test erneut vom Profil aus; es wurde nichts gespeichert.
oauth-state-expired = Diese Autorisierung hat länger als 10 Minuten gedauert und ist abgelaufen. Starten Sie den Test erneut; es wurde nichts gespeichert.
oauth-state-reused = Diese Autorisierung wurde bereits abgeschlossen; ein Ergebnis ist nur einmal verwendbar. Es wurde nichts geändert.
oauth-code-missing = Die Antwort von Microsoft enthält keinen Autorisierungscode. Starten Sie den Test erneut.
oauth-denied = Die Anmeldung wurde abgebrochen oder die Berechtigungen wurden abgelehnt ({ $code }). Es wurde nichts gespeichert. Versuchen Sie es erneut und akzeptieren Sie die angefragten Berechtigungen.
oauth-consent-required = Die Berechtigungen wurden nicht erteilt ({ $code }). Erteilen Sie die Administratorzustimmung in der App-Registrierung und versuchen Sie es erneut.
oauth-interaction-required = Microsoft verlangt eine interaktive Anmeldung ({ $code }). Versuchen Sie es erneut und schließen Sie alle Anmeldeschritte ab.
oauth-app-config = Microsoft hat die Anfrage abgelehnt ({ $code }): Vergleichen Sie Client-ID, Umleitungs-URI und Mandant mit der App-Registrierung.
oauth-failed = Die Autorisierung ist fehlgeschlagen ({ $code }). Es wurde nichts gespeichert.
oauth-exchange-failed = Microsoft hat die Autorisierung nicht angenommen ({ $code }).
oauth-exchange-transient = Microsoft war nicht erreichbar, um die Autorisierung abzuschließen. Versuchen Sie es gleich noch einmal.

## Verbinden und Abonnements
nav-subscriptions = Abonnements
profile-connect = Verbinden: Kalender auswählen
profile-subscriptions = { $count ->
    [0] keine Abonnements
    [one] ein Abonnement
   *[other] { $count } Abonnements
}
profile-delete-subscriptions = { $count ->
    [one] Über dieses Profil ist ein Kalender abonniert. Das Abonnement wird mit dem Profil entfernt.
   *[other] Über dieses Profil sind { $count } Kalender abonniert. Die Abonnements werden mit dem Profil entfernt.
} Was soll mit den bisher importierten Terminen geschehen?
connect-title = Verbinden
connect-heading = Kalender auswählen mit { $name }
connect-account = Angemeldetes Konto: { $name }
connect-profile-needs-attention = Dieses Profil braucht zuerst Aufmerksamkeit
connect-go-to-profile = Profil öffnen
connect-address = Adresseingabe
field-address = Adresse
connect-lookup = Suchen
connect-primary-only = Durch technische Beschränkungen der Microsoft Graph API kann ausschließlich der Hauptkalender einer Ressource oder eines freigegebenen Postfachs gelesen werden.
connect-search = Postfächer suchen
field-search = Teil eines Namens oder einer Adresse
connect-search-submit = Suchen
connect-search-hint = Microsoft sucht am Anfang von Wörtern: „ber“ findet „Raum Berlin“, „erlin“ nicht. Wird nichts gefunden, geben Sie die vollständige Adresse in der Adresseingabe ein.
connect-my-calendars = Meine Kalender
connect-rooms = Raumliste
connect-anonymized = Die meisten anstehenden Termine dieses Kalenders zeigen keinen Betreff oder stattdessen den Namen des Organisators: Exchange schreibt die Termine dieses Raums um. Eine Exchange-Administration kann das abschalten:
connect-preview = Nächste Termine
connect-preview-empty = Keine Termine in den nächsten vier Wochen.
connect-preview-failed = Die Termine konnten nicht gelesen werden:
preview-when = Wann
preview-subject = Betreff
preview-organizer = Organisator
connect-already-subscribed = Dieser Kalender ist über dieses Profil bereits abonniert.
connect-open-subscription = Abonnement öffnen
connect-subscribe = Abonnieren
connect-subscribe-submit = Diesen Kalender abonnieren
field-display-name = Anzeigename
field-days-back = Tage in die Vergangenheit
field-days-ahead = Tage in die Zukunft
field-interval = Abgleichintervall (Minuten)
field-enabled = Import aktiv
field-mask-private = Betreff und Details privater Termine ausblenden
connect-not-found = Es wurde kein Postfach mit der Adresse { $name } gefunden. Prüfen Sie die Schreibweise.
connect-no-mailbox = { $name } existiert, hat aber kein Exchange-Online-Postfach, das Graph lesen kann (inaktiv, lokal gehostet oder nicht lizenziert).
connect-forbidden = Das Konto { $account } darf den Kalender von { $name } nicht lesen. Der Postfachinhaber (oder eine Exchange-Administration) muss dem Konto Lesezugriff auf den Kalender erteilen, zum Beispiel:
connect-failed = Die Anfrage ist fehlgeschlagen:
connect-search-results = Gefundene Postfächer
connect-search-none = Nichts gefunden.
connect-search-count = { $count ->
    [one] Ein Postfach
   *[other] { $count } Postfächer
}
connect-kind = Art
kind-room = Raum
kind-person = Person
kind-unknown = Postfach
connect-show-calendar = Kalender anzeigen
connect-search-permission = Die Postfach-Liste bleibt leer: Die App-Registrierung benötigt das Recht User.ReadBasic.All, damit Postfächer aufgelistet werden können. Fügen Sie es hinzu (und erteilen Sie die Zustimmung) oder geben Sie die vollständige Adresse in der Adresseingabe ein, die ohne dieses Recht funktioniert.
connect-rooms-none = Der Mandant führt keine Räume.
connect-rooms-permission = Die Raumliste benötigt zusätzlich das Recht Place.Read.All mit Administratorzustimmung, das die Einrichtungsanleitung nicht vorsieht. Fügen Sie es der App-Registrierung hinzu und erteilen Sie die Administratorzustimmung, um diese Liste zu nutzen – oder suchen Sie über den Namen bzw. geben Sie die Adresse des Raums ein.
connect-personal-account = Dieses Profil ist mit einem persönlichen Microsoft-Konto (z. B. outlook.com) autorisiert. Solche Konten haben kein Verzeichnis: Personensuche, Raumliste und andere Postfächer gibt es dort nicht (Microsoft Graph unterstützt sie für persönliche Konten nicht). Unter „Meine Kalender“ stehen die eigenen Kalender und die, die mit dem Konto geteilt wurden. Für Raum- und Teamkalender autorisieren Sie das Profil mit einem Geschäfts- oder Schulkonto.
connect-calendars-permission = Die Kalender des Kontos können nicht gelesen werden: Das Recht Calendars.Read.Shared fehlt.
connect-calendar = Kalender
connect-owner = Besitzer
connect-color = Farbe
pager-previous = ← Zurück
pager-next = Weiter →
sub-name-invalid = Bitte geben Sie einen Anzeigenamen ein (höchstens 100 Zeichen).
sub-days-invalid = Bitte geben Sie eine Anzahl Tage zwischen 0 und 1823 (zurück) bzw. 1 und 1824 (voraus) ein.
sub-window-too-long = Tage zurück und Tage voraus umfassen zusammen zu viel: Microsoft Graph liest höchstens 1825 Tage eines Kalenders auf einmal (Tage zurück + heute + Tage voraus). Bitte kürzen Sie einen der beiden Werte.
sub-interval-invalid = Bitte geben Sie eine Anzahl Minuten zwischen 1 und 1440 ein.
sub-calendar-unavailable = Der Kalender kann über dieses Profil nicht mehr gelesen werden. Suchen Sie ihn erneut.
sub-created = { $name } ist abonniert.
sub-saved = Die Änderungen an { $name } wurden gespeichert.
sub-conflict = Ein anderer Administrator hat dieses Abonnement geändert, während Sie es bearbeitet haben. Das Formular zeigt jetzt den aktuellen Stand; prüfen Sie ihn und speichern Sie erneut.
sub-paused = { $name } ist pausiert.
sub-resumed = { $name } wird wieder importiert.
sub-deleted = Das Abonnement { $name } wurde gelöscht.
sub-delete-title = Abonnement { $name } löschen?
sub-delete-question = Was soll mit den bisher importierten Terminen geschehen?
sub-delete-keep = In der Datenbank behalten
sub-delete-remove = Entfernen
sub-delete-confirm = Abonnement löschen
subs-filter-text = Suche
subs-filter-any-profile = Alle Profile
subs-filter-all = Alle
subs-filter-active = Aktiv
subs-filter-paused = Pausiert
subs-filter-failing = Mit Fehler
subs-filter-new = Noch nicht importiert
subs-filter-apply = Anzeigen
subs-filter-empty = Kein Abonnement passt zu diesem Filter.
subs-per-page = Pro Seite
subs-showing = { $count ->
    [0] Keine Abonnements
   *[other] { $first }–{ $last } von { $count } Abonnements
}
subs-select-page = Alle auf dieser Seite auswählen
subs-bulk-title = Mit den Abonnements
subs-bulk-selected = oben angehakt
subs-bulk-matching = alle { $count }, die zum Filter passen (alle Seiten)
subs-bulk-action = Aktion
subs-bulk-interval-action = Abrufintervall setzen
subs-bulk-delete-action = Löschen…
subs-bulk-apply = Ausführen
subs-bulk-none = Kein Abonnement gewählt: Zeilen anhaken oder „alle, die zum Filter passen“ wählen.
subs-bulk-unknown = Diese Aktion gibt es nicht; nichts wurde geändert.
subs-bulk-paused = { $count } pausiert ({ $unchanged } waren schon pausiert, { $missing } gibt es nicht mehr).
subs-bulk-resumed = { $count } fortgesetzt ({ $unchanged } waren schon aktiv, { $missing } gibt es nicht mehr).
subs-bulk-synced = { $count } werden in wenigen Sekunden importiert ({ $missing } gibt es nicht mehr).
subs-bulk-interval = Das Abrufintervall von { $count } wurde geändert ({ $unchanged } hatten es schon, { $missing } gibt es nicht mehr).
subs-bulk-deleted = { $count } Abonnements gelöscht ({ $missing } gab es nicht mehr).
subs-bulk-delete-title = { $count } Abonnements löschen?
subs-bulk-delete-more = … und { $count } weitere.
subs-bulk-delete-choose = Wählen Sie, was mit den importierten Terminen geschieht.
subs-pages = Seiten
subs-page-prev = Zurück
subs-page-next = Weiter
subs-page-of = Seite { $page } von { $pages }
subs-title = Abonnements
subs-empty = Noch ist kein Kalender abonniert. Öffnen Sie ein funktionierendes Profil und wählen Sie „Verbinden“.
subs-mailbox = Postfach
subs-profile = Profil
subs-last-sync = Letzter Import
subs-next-sync = Nächster Import
subs-events = Termine
subs-enabled = Aktiv
subs-paused = Pausiert
subs-calendar = Kalender
subs-window = Importzeitraum
subs-window-value = { $back } Tage zurück, { $ahead } Tage voraus
subs-created = Abonniert
subs-pause = Pausieren
subs-resume = Fortsetzen
subs-settings = Einstellungen

## Import
subs-sync-now = Jetzt abgleichen
sub-sync-requested = { $name } wird in wenigen Sekunden importiert.
sub-anonymized = Die meisten anstehenden Termine dieses Raums haben keinen Betreff oder zeigen stattdessen den Namen des Organisators: Exchange schreibt die Termine des Raums um (AddOrganizerToSubject / DeleteSubject). Eine Exchange-Administration kann das abschalten; es wirkt für danach gebuchte oder geänderte Termine:
sub-anonymized-short = Betreff vom Raum ausgeblendet
sub-series-unreadable = Einige Serientermine in diesem Kalender sind privat, und das Konto des Profils darf private Elemente nicht öffnen: Microsoft zeigt ihm nur deren Zeiten. Ihre Vorkommen werden mit Zeiten, Art und Serien-ID importiert; Betreff, Organisator und Teilnehmer bleiben leer. Exchange erlaubt nur Stellvertretern, private Elemente zu sehen (ein Stellvertreter darf den Kalender auch bearbeiten); wenn das vertretbar ist, kann ein Exchange-Administrator es erteilen, und die Details kommen mit dem nächsten vollständigen Import:
runs-title = Letzte Importe
runs-none = Noch nicht importiert.
runs-chart = Dauer der letzten Importe
runs-started = Gestartet
runs-kind = Art
runs-duration = Dauer
runs-pages = Seiten
runs-changes = Änderungen
runs-requests = Anfragen
runs-quiet-title = Importe ohne Änderungen, je Stunde
runs-quiet-help = Importe, die nichts geändert haben, werden je Stunde zusammengezählt; oben steht nur der letzte davon einzeln.
runs-quiet-hour = Stunde ab
runs-quiet-runs = Importe
runs-quiet-durations = Dauer Ø / längste
runs-waits = Gedrosselt
dashboard-attention = Braucht Aufmerksamkeit
dashboard-attention-none = Alle Abonnements werden normal importiert.
attention-failing = Import schlägt fehl
attention-paused = durch sein Profil pausiert
attention-stale = seit { $minutes } Minuten nicht importiert
attention-anonymized = Betreff vom Raum ausgeblendet

sync-hint-detail = Antwort von Microsoft:
sync-hint-forbidden = Das Konto des Profils darf diesen Kalender nicht lesen. Der Postfachinhaber oder ein Exchange-Administrator muss ihm Lesezugriff geben (zum Beispiel `Add-MailboxFolderPermission -Identity raum@example.com:\Kalender -User konto@example.com -AccessRights Reviewer`); Änderungen brauchen einige Minuten, bis sie wirken, und Datapump versucht es weiter.
sync-hint-not-found = Das Postfach oder der Kalender existiert nicht mehr (oder wurde umbenannt). Löschen Sie dieses Abonnement oder suchen Sie das Postfach unter Verbinden neu.
sync-hint-unauthorized = Microsoft lehnt die Tokens des Profils auch nach einer Erneuerung ab. Öffnen Sie das Profil und autorisieren Sie es erneut.
sync-hint-throttled = Microsoft drosselt die Anfragen für dieses Postfach. Datapump wartet wie verlangt und versucht es erneut; es geht nichts verloren.
sync-hint-profile = Das Profil braucht Aufmerksamkeit (zum Beispiel ein abgelaufener geheimer Clientschlüssel oder ein geändertes Kennwort). Öffnen Sie das Profil: Dort steht, was zu tun ist. Danach laufen die Importe von selbst weiter.
sync-hint-network = Microsoft ist nicht erreichbar. Prüfen Sie Netzwerk und Proxy des Servers; Datapump versucht es erneut.
sync-hint-deadline = Der Import dauerte zu lange und wurde angehalten; der nächste Lauf setzt dort fort.
sync-hint-graph = Microsoft Graph hat unerwartet geantwortet. Datapump versucht es erneut; hält das an, hilft die Angabe unten dem Support.
sync-hint-internal = Datapump konnte den Import nicht speichern (Datenbankfehler). Siehe Server-Log; Datapump versucht es erneut.
profile-url-https-required = Die Adresse muss mit https:// beginnen: Datapump sendet das Geheimnis und die Tokens dorthin. http:// ist nur für diesen Rechner (localhost) erlaubt.
profile-secret-again = Geben Sie das Geheimnis erneut ein: Cloud, Anmelde- oder Graph-Adresse ändern sich, und das gespeicherte Geheimnis wird nie an eine neue Adresse geschickt.
hint-client-secret-edit = Leer lassen, um das gespeicherte Geheimnis zu behalten. Pflicht, wenn sich Cloud, Anmelde- oder Graph-Adresse ändern: Das Geheimnis geht nur an die Adressen, für die es eingegeben wurde.
password-current-throttled = Zu viele falsche Passwörter: Versuchen Sie es in einigen Minuten erneut.
login-busy = Gerade gibt es sehr viele Anmeldeversuche. Versuchen Sie es in einer Minute erneut.
profile-disconnect = Konto trennen
profile-disconnect-help = Löscht die gespeicherten Tokens sofort. Profil und Abonnements bleiben, pausieren aber, bis das Profil erneut autorisiert wird.
profile-disconnected = Das Konto ist getrennt: Die Tokens sind gelöscht, die Abonnements pausieren bis zur nächsten Autorisierung.

reauth-title = Bestätigen Sie, dass Sie es sind
reauth-help = Diese Aktion ändert Zugangsdaten oder Administratoren. Geben Sie Ihr Passwort erneut ein; es gilt dann fünf Minuten lang für solche Aktionen.
reauth-submit = Weiter
oauth-mix-up = Diese Antwort der Anmeldung gehört zu einem anderen Profil oder einem anderen Identitätsanbieter. Es wurde nichts eingelöst oder gespeichert; starten Sie die Autorisierung erneut im Profil.
profile-own-redirect = Die eigene Umleitungs-URI dieses Profils ist { $url }. In der App-Registrierung eingetragen und hier angegeben, nimmt sie nur Anmeldungen dieses Profils an (empfohlen, wenn Profile verschiedene App-Registrierungen, Mandanten oder Anmeldeadressen verwenden).
feed-title = Kalender-Feed (ICS)
feed-help = Eine geheime Adresse mit dem Terminplan dieses Kalenders im iCalendar-Format, für Outlook („Kalender hinzufügen → Aus dem Internet abonnieren“), Türschilder und andere Kalenderprogramme. Sie enthält Betreff, Zeiten, Organisatoren und Orte, aber keine Teilnehmer oder Texte. Wer die Adresse kennt, kann sie lesen.
feed-create = Feed-Adresse erzeugen
feed-replace = Neue Feed-Adresse
feed-disable = Feed abschalten
feed-created = Die Adresse des Feeds. Kopieren Sie sie jetzt: Sie wird nur dieses eine Mal angezeigt (Datapump speichert nur einen Fingerabdruck davon). Eine neue Adresse setzt die vorige außer Kraft.
feed-active = Eine Feed-Adresse besteht seit { $time }.
feed-disabled = Der Feed ist abgeschaltet; seine Adresse funktioniert nicht mehr.
feed-private = Privater Termin
feed-untitled = (ohne Betreff)
nav-tokens = API
tokens-title = API-Tokens
tokens-help = Empfangs-Software und Türschilder lesen Datapumps Daten über die Nur-Lese-API unter { $url } (Räume, die Termine eines Raums, den Änderungs-Feed, die Besucher des Tages) mit einem Token von hier, gesendet als „Authorization: Bearer <Token>“. Ein Token liest alle Abonnements oder nur die für ihn gewählten.
tokens-none = Noch keine Tokens.
tokens-name = Name
tokens-name-example = Empfang, Foyer-Bildschirm
tokens-name-invalid = Geben Sie dem Token einen Namen mit bis zu 100 Zeichen.
tokens-scope = Darf lesen
tokens-scope-all = Alle Abonnements, auch künftige
tokens-scope-invalid = Wählen Sie „alle Abonnements“ oder mindestens ein Abonnement.
tokens-created-by = Erstellt
tokens-last-use = Zuletzt benutzt
tokens-uses = Aufrufe
tokens-revoke = Widerrufen
tokens-revoked-at = widerrufen { $time }
tokens-revoked = Der Token „{ $name }“ ist widerrufen; er funktioniert nicht mehr.
tokens-new = Neuer Token
tokens-create = Token erstellen
tokens-created = Der neue Token. Kopieren Sie ihn jetzt: Er wird nur dieses eine Mal angezeigt (Datapump speichert nur einen Fingerabdruck davon).
tokens-endpoints = Endpunkte
tokens-openapi = Das OpenAPI-3.1-Dokument (für Code-Generatoren und API-Werkzeuge)

# Webhooks
webhook-title = Webhook
webhook-none = keiner
webhook-ok = liefert
webhook-failing = { $count } fehlgeschlagene Versuche
webhook-help = Datapump schickt den Änderungs-Feed laufend an die Adresse dieses Abnehmers: ein POST mit JSON (dieselben Einträge wie /api/v1/changes, für die Abonnements dieses Tokens), signiert mit einem eigenen Geheimnis. Die Adresse erhält jede Änderung mindestens einmal, in Commit-Reihenfolge; sie bestätigt mit 2xx und verwirft Wiederholungen anhand von seq. Ein neuer Webhook beginnt mit den Änderungen nach seinem Anlegen: Lesen Sie die aktuellen Termine zuerst über die API.
webhook-status = Zustellungen
webhook-url = Adresse
webhook-position = Stand im Feed
webhook-position-value = nach { $seq } ({ $behind } neuere Änderungen im Feed, aller Abonnements)
webhook-delivered = Zugestellte Änderungen
webhook-last-success = Letzte bestätigte Zustellung
webhook-last-failure = Letzter Fehler
webhook-next-attempt = nächster Versuch
webhook-gap = Änderungen wurden aus dem Feed gelöscht (Aufbewahrungsfrist abgelaufen), bevor sie zugestellt werden konnten. Die nächste Zustellung enthält "resync": true: Der Abnehmer muss die Termine erneut über die API lesen.
webhook-gap-short = Änderungen verpasst: neu lesen
webhook-retry = Jetzt erneut versuchen
webhook-retrying = Zustellungen an { $name } werden jetzt erneut versucht.
webhook-new-secret = Neues Signatur-Geheimnis
webhook-delete = Webhook entfernen
webhook-deleted = Der Webhook von { $name } ist entfernt; es wird nichts mehr dorthin geschickt.
webhook-change = Adresse ändern
webhook-add = Webhook hinzufügen
webhook-save = Speichern
webhook-secret = Signatur-Geheimnis
webhook-secret-shown = Das Signatur-Geheimnis. Geben Sie es jetzt an den Empfänger weiter: Es wird nur dieses eine Mal angezeigt. Das bisherige Geheimnis gilt nicht mehr.
webhook-url-invalid = Geben Sie eine vollständige Adresse an, etwa https://empfang.example.com/datapump (ohne Benutzername oder Kennwort).
webhook-url-https = Zustellungen enthalten Besprechungsbetreffs: Verwenden Sie https (einfaches http nur zu diesem Rechner).
webhook-verify = Eine Zustellung prüfen
webhook-verify-help = Der Empfänger berechnet HMAC-SHA256 mit dem Signatur-Geheimnis über den Zeitstempel t, einen Punkt und den unveränderten Body, vergleicht das Ergebnis zeitkonstant mit v1 und lehnt Zeitstempel ab, die älter als fünf Minuten sind (so werden auch wiederholt eingespielte Zustellungen abgelehnt).
dashboard-webhooks = Webhooks, die Aufmerksamkeit brauchen

# Datensparsamkeit
field-stored = Gespeicherte Felder
field-stored-help = Zeiten, Betreff, Organisator, Ort und Namen der Teilnehmer werden immer gespeichert. Was Sie abschalten, wird sofort aus den bereits gespeicherten Terminen entfernt; wieder eingeschaltet, kommt es mit dem nächsten (vollständigen) Import zurück.
field-store-body = Textvorschau
field-store-addresses = Adressen der Teilnehmer (aus: nur die Domain, z. B. @partner.example, damit Besucher weiter erkannt werden)
field-store-online = Link zur Online-Besprechung
field-store-categories = Kategorien
field-retention = Termine so viele Tage nach ihrem Ende aufbewahren
field-retention-help = Leer: so weit zurück, wie das Zeitfenster reicht. Kürzer als „Tage zurück“, verkürzt es das Zeitfenster. Termine, die beim Löschen dieses Abonnements behalten wurden, werden entfernt, sobald sie älter sind.
sub-retention-invalid = Geben Sie eine Zahl von 0 bis 36500 Tagen an oder lassen Sie das Feld leer.

# Räume
nav-rooms = Räume
rooms-title = Räume
rooms-help = Gebäude, Etage, Kapazität und Adresse der abonnierten Räume, für den Leser der Datenbank (Tabelle rooms, die Räume der API). Sie kommen aus Microsofts Raumverzeichnis für Profile, deren Konto es lesen darf (alle sechs Stunden aufgefrischt), oder ein Admin trägt sie ein; der Eintrag eines Admins bleibt, bis er wieder dem Verzeichnis übergeben wird.
rooms-refresh = Raumverzeichnis jetzt lesen
rooms-refreshed-at = Raumverzeichnis zuletzt gelesen: { $time }
rooms-refreshed = Raumverzeichnis gelesen: { $matched } Abonnements darin gefunden, { $updated } aktualisiert.
rooms-refresh-failed = Das Raumverzeichnis konnte nicht gelesen werden ({ $reasons }); nichts wurde geändert.
rooms-no-permission = Das Konto des Profils „{ $profile }“ darf das Raumverzeichnis nicht lesen. Damit Gebäude, Etage und Kapazität ausgefüllt werden, fügen Sie der App-Registrierung die delegierte Berechtigung Place.Read.All hinzu, erteilen die Administratorzustimmung für die Organisation und autorisieren das Profil erneut. Bis dahin tragen Sie die Daten hier ein.
rooms-none = Noch keine Abonnements.
rooms-building = Gebäude
rooms-floor = Etage
rooms-floor-number = Etagennummer
rooms-floor-label = Etagenbezeichnung (z. B. „Erdgeschoss“)
rooms-capacity = Kapazität
rooms-address = Adresse
rooms-name = Name im Verzeichnis
rooms-source = Quelle
rooms-source-admin = von einem Admin eingetragen
rooms-source-directory = Raumverzeichnis
rooms-source-none = nicht bekannt
rooms-entered-by = Eingetragen von { $name }
rooms-from-directory = Aus Microsofts Raumverzeichnis
rooms-edit-help = Beim Speichern werden dies die Daten des Raums; das Verzeichnis ändert sie nicht mehr.
rooms-use-directory = Wieder das Raumverzeichnis verwenden
rooms-saved = Die Daten von { $name } sind gespeichert.
rooms-reset = { $name } folgt wieder dem Raumverzeichnis.
rooms-text-too-long = Höchstens 200 Zeichen.
rooms-number-invalid = Geben Sie eine ganze Zahl im erlaubten Bereich an oder lassen Sie das Feld leer.

# Interne Domains
domains-title = Interne Domains
domains-help = Teilnehmer mit diesen Domains sind Kollegen (kind „internal“); alle anderen sind Besucher („external“) in event_attendees und expected_visitors. Die Domains der abonnierten Postfächer und der autorisierten Konten zählen von selbst; die bestätigten Domains der Mandanten werden alle sechs Stunden bei Microsoft gelesen, wo das Konto es darf (dazu braucht es die delegierte Berechtigung User.Read, die neue App-Registrierungen haben). Änderungen ordnen alle gespeicherten Teilnehmer sofort neu ein.
domains-effective = Wirksam
domains-none = Noch keine.
domains-from-mailboxes = abonniertes Postfach oder autorisiertes Konto
domains-from-admin = hier eingetragen
domains-from-tenant = bestätigte Domain des Mandanten
domains-from-environment = DATAPUMP_INTERNAL_DOMAINS
domains-own = Weitere interne Domains
domains-own-label = Eine Domain pro Zeile (z. B. Tochterfirmen)
domains-invalid = Keine Domain: { $values }. Es wurde nichts gespeichert.
domains-too-many = Höchstens 500 Domains.
domains-saved = Die internen Domains sind gespeichert; die Teilnehmer werden neu eingeordnet.
domains-refresh = Bestätigte Domains der Mandanten jetzt lesen
domains-refreshed = Bestätigte Domains für { $count } Profile gelesen.
domains-refresh-failed = Nicht für jeden Mandanten konnten die Domains gelesen werden ({ $reasons }); das zuvor Gelesene bleibt.
rooms-room-list = Raumliste

## Anwendungsprofile (Client Credentials, ohne Benutzer)
profiles-new-application = Neues Anwendungsprofil
field-profile-kind = Art
kind-delegated = Delegiert (ein Microsoft-365-Konto autorisiert einmal)
kind-application = Anwendung (ohne Benutzer, Anwendungsberechtigungen)
profile-kind-invalid = Wählen Sie „delegiert“ oder „Anwendung“.
profile-kind-delegated-intro = Delegiert: Ein Microsoft-365-Konto, das die Kalender lesen darf, autorisiert dieses Profil einmal; danach liest Datapump, was dieses Konto lesen darf.
profile-kind-application-intro = Anwendung: Die App-Registrierung meldet sich selbst mit ihrem geheimen Clientschlüssel an (Client Credentials, ohne Benutzer). Sie braucht die Anwendungsberechtigung Calendars.Read mit Administratorzustimmung, in Exchange Online auf die Raumpostfächer beschränkt. Kein Konto, kein Passwort, das sich ändern kann, kein Aktualisierungstoken, das ablaufen kann.
hint-tenant-application = Ihre Mandanten-ID oder Domäne (zum Beispiel contoso.onmicrosoft.com). Pflicht: Ohne Benutzer sagt nur der Mandant, wessen Postfächer gemeint sind.
profile-tenant-specific-required = Ein Anwendungsprofil braucht Ihre Mandanten-ID oder Domäne; „common“, „organizations“ und „consumers“ benennen keinen Mandanten.
profile-test-app = Jetzt ein Token holen
profile-app-access = Anwendungszugriff
profile-app-roles = Anwendungsberechtigungen (Rollen)
profile-app-roles-none = keine in Entra erteilt
profile-app-role-granted = erteilt
profile-app-role-missing-required = nicht im Token. In Ordnung, wenn die RBAC für Anwendungen in Exchange Online sie erteilt (auf die Räume beschränkt: empfohlen); sonst unter „API-Berechtigungen“ als Anwendungsberechtigung hinzufügen und die Administratorzustimmung erteilen (dann gilt sie für jedes Postfach). Ohne beides antwortet jedes Postfach mit 403.
profile-app-role-missing-optional = nicht erteilt (optional: Räume mit Gebäude und Etage, Verzeichnissuche)
help-app-new = Holen Sie ein Token, um App-Registrierung, geheimen Schlüssel und Anwendungsberechtigungen zu prüfen.
help-app-consent-missing = Dem Token der Anwendung fehlt eine Anwendungsberechtigung, die Datapump braucht (siehe unten). Fügen Sie sie unter „API-Berechtigungen“ als Anwendungsberechtigung hinzu, klicken Sie „Administratorzustimmung erteilen“ und dann „Jetzt ein Token holen“.
help-app-token-refused = Die Identitätsplattform hat die Anmeldedaten der App abgelehnt. Prüfen Sie den geheimen Schlüssel und den Mandanten, dann „Jetzt ein Token holen“.
oauth-not-delegated = Dies ist ein Anwendungsprofil: Es meldet sich ohne Konto an. Verwenden Sie „Jetzt ein Token holen“ auf seiner Seite.
kind-application-short = Anwendung, kein Konto
scope-title = Welche Postfächer die App lesen kann
scope-intro = Eine Anwendungsberechtigung gilt für jedes Postfach im Mandanten, solange Exchange Online sie nicht beschränkt. Die Prüfung liest einen Raum, den die App lesen muss, und ein Postfach, das ihr verweigert werden muss (403). Änderungen am Bereich wirken erst nach einer Weile: laut Microsoft bis zu zwei Stunden.
scope-never = Noch nicht geprüft.
scope-room = Ein Raum, den sie lesen muss
scope-outside = Ein Postfach, das sie nicht lesen darf
scope-outside-hint = Ein vorhandenes Postfach außerhalb des Bereichs, zum Beispiel das einer Person. Datapump prüft nur, ob der Zugriff verweigert wird.
scope-check = Bereich prüfen
scope-scoped = Beschränkt: Der Raum wurde gelesen, das andere Postfach verweigert.
scope-unscoped = Nicht beschränkt: Die App konnte das Postfach außerhalb der Räume lesen – sie kann jedes Postfach im Mandanten lesen.
scope-room-unreadable = Der Raum konnte nicht gelesen werden: Der Bereich schließt ihn aus, oder die Änderung wirkt noch nicht.
scope-failed = Die Prüfung war nicht möglich; siehe die Details.
scope-address-invalid = Geben Sie zwei Postfachadressen ein (name@domain).
scope-address-same = Die beiden Postfächer müssen verschieden sein.
scope-not-application = Nur Anwendungsprofile haben eine Bereichsprüfung.
scope-rbac-title = RBAC für Anwendungen (empfohlen)
scope-rbac-intro = In der Exchange Online PowerShell, als Exchange-Administrator. Danach in Entra die Administratorzustimmung für Calendars.Read entfernen: Berechtigungen in Entra gelten für jedes Postfach und addieren sich zur beschränkten.
scope-policy-title = Anwendungszugriffsrichtlinie (veraltet)
scope-policy-intro = Nur für Mandanten, die bereits Anwendungszugriffsrichtlinien verwenden; Microsoft rät, keine neuen anzulegen. Ersetzen Sie rooms@contoso.com durch eine E-Mail-aktivierte Sicherheitsgruppe der Räume.
dashboard-unscoped = Anwendungsprofile, die jedes Postfach lesen können
scope-room-list-title = Oder nur die Räume der Raumliste „{ $name }“
kind-delegated-short = delegiertes Konto

# Zertifikate (Anwendungsprofile)
field-credential = Anmeldeinformation
credential-certificate = Zertifikat
credential-certificate-generate = Zertifikat — Datapump erzeugt das Schlüsselpaar (empfohlen)
credential-secret = Geheimer Clientschlüssel
hint-credential-certificate = Datapump erzeugt ein RSA-Schlüsselpaar und ein selbstsigniertes Zertifikat, zwei Jahre gültig. Der private Schlüssel wird verschlüsselt gespeichert und verlässt Datapump nie; Sie laden das Zertifikat in der App-Registrierung unter „Zertifikate und Geheimnisse → Zertifikate“ hoch.
hint-credential-certificate-edit = Dieses Profil meldet sich mit einem Zertifikat an. Ersetzen Sie es mit „Neue Anmeldeinformation“.
hint-client-secret-application = Nur bei „Geheimer Clientschlüssel“: der „Wert“ des Schlüssels (nicht seine ID). Er wird verschlüsselt gespeichert und nie wieder angezeigt.
profile-credential-invalid = Wählen Sie ein Zertifikat oder einen geheimen Clientschlüssel (Zertifikate nur für Anwendungsprofile).
profile-new-credential = Neue Anmeldeinformation
certificate-expires = Zertifikat läuft ab am
certificate-title = Zertifikat
certificate-subject = Antragsteller
certificate-thumbprint = Fingerabdruck (SHA-1)
certificate-valid = Gültig
certificate-upload-to-entra = Laden Sie dieses Zertifikat im Entra Admin Center hoch: App-Registrierungen → diese App → Zertifikate und Geheimnisse → Zertifikate → Zertifikat hochladen. Entra zeigt dann denselben Fingerabdruck. Danach „Jetzt ein Token holen“ klicken.
certificate-download = Zertifikat herunterladen (.pem)
certificate-generated = Ein neues Zertifikat wurde erzeugt (Fingerabdruck { $thumbprint }). Laden Sie es herunter und in der App-Registrierung hoch, bevor Sie ein Token holen.
certificate-stored = Das Zertifikat ist gespeichert (Fingerabdruck { $thumbprint }). Entra muss unter „Zertifikate und Geheimnisse“ denselben Fingerabdruck zeigen.
certificate-not-accepted-yet = Microsoft hat das Zertifikat noch nicht angenommen. Laden Sie es in der App-Registrierung hoch und klicken Sie dann „Jetzt ein Token holen“.
certificate-delegated = Zertifikate sind für Anwendungsprofile; delegierte Profile melden sich mit einem geheimen Clientschlüssel an.
certificate-generate-title = Neues Zertifikat erzeugen
certificate-generate-help = Datapump erzeugt ein neues Schlüsselpaar mit Zertifikat und verwendet es ab sofort; die bisherige Anmeldeinformation wird nicht mehr benutzt. Laden Sie das neue Zertifikat gleich in der App-Registrierung hoch.
certificate-generate = Zertifikat erzeugen
certificate-upload-title = Zertifikat hochladen
certificate-upload-help = Eine PEM-Datei mit Zertifikat und privatem Schlüssel („BEGIN CERTIFICATE“ und „BEGIN PRIVATE KEY“ oder „BEGIN RSA PRIVATE KEY“) oder eine PFX/PKCS#12-Datei, wie Export-PfxCertificate sie schreibt. RSA mit mindestens 2048 Bit.
certificate-upload = Hochladen
field-certificate-file = Zertifikatsdatei (.pem oder .pfx)
field-pfx-password = PFX-Kennwort
hint-pfx-password = Nur für PFX-Dateien. Es öffnet die Datei einmal und wird nicht gespeichert.
certificate-upload-missing = Wählen Sie eine Datei zum Hochladen.
certificate-upload-unreadable = Der Upload konnte nicht gelesen werden. Bitte erneut versuchen.
certificate-error-unreadable = Die Datei ist weder eine PEM- noch eine PFX-Datei.
certificate-error-no-certificate = Die Datei enthält kein Zertifikat.
certificate-error-no-key = Die Datei enthält keinen privaten Schlüssel. Datapump braucht das Zertifikat mit seinem privaten Schlüssel (PFX „mit privatem Schlüssel“ exportieren).
certificate-error-locked = Die PFX-Datei ließ sich nicht öffnen: Das Kennwort ist falsch, oder sie ist auf eine Weise verschlüsselt, die Datapump nicht unterstützt. Ein verschlüsselter PEM-Schlüssel muss zuerst entschlüsselt werden.
certificate-error-mismatch = Der private Schlüssel gehört nicht zum Zertifikat.
certificate-error-not-rsa = Der Schlüssel ist kein RSA-Schlüssel. Zertifikate für Entra brauchen RSA.
certificate-error-short = Der RSA-Schlüssel ist kürzer als 2048 Bit.
certificate-error-expired = Das Zertifikat ist abgelaufen.
help-cert-not-registered = Microsoft kennt dieses Zertifikat nicht: Es ist (noch) nicht in der App-Registrierung hochgeladen, oder dort liegt ein anderes. Laden Sie das Zertifikat unten herunter, unter „Zertifikate und Geheimnisse → Zertifikate“ hoch, dann „Jetzt ein Token holen“.
help-cert-expired = Das Zertifikat ist abgelaufen. Erzeugen oder laden Sie mit „Neue Anmeldeinformation“ ein neues und laden Sie es in der App-Registrierung hoch.
help-cert-invalid = Microsoft hat das Zertifikat abgelehnt. Prüfen Sie, ob in der App-Registrierung das unten gezeigte Zertifikat liegt (gleicher Fingerabdruck), dann „Jetzt ein Token holen“.
help-assertion-time = Microsoft hat die signierte Anfrage als außerhalb ihres Zeitfensters abgelehnt: Die Uhr des Servers geht vermutlich falsch. Uhr synchronisieren (NTP), dann „Jetzt ein Token holen“.

# Ganze Raumlisten
nav-room-lists = Raumlisten
connect-room-lists = Raumlisten
connect-room-lists-help = Eine ganze Raumliste in einem Schritt abonnieren: Jeder ihrer Räume wird mit diesen Einstellungen abonniert, später hinzugefügte Räume kommen automatisch dazu, entfernte werden pausiert (ihre Termine bleiben).
connect-room-lists-none = Das Verzeichnis hat keine Raumlisten.
connect-room-list-subscribe = Ganze Liste abonnieren
room-list-form-invalid = Die Raumliste konnte nicht abonniert werden: Bitte Tage und Intervall prüfen.
room-list-subscribed-already = Dieses Profil folgt dieser Raumliste bereits.
room-list-unreadable = Die Raumliste { $name } konnte nicht gelesen werden; nichts wurde geändert: { $reasons }
room-list-checked = Raumliste { $name } gelesen: { $count } Räume neu abonniert, { $updated } pausiert.
room-list-rooms-failed = Einige Räume konnten nicht abonniert werden: { $reasons }
room-list-deleted = Datapump folgt der Raumliste { $name } nicht mehr. Ihre Räume bleiben abonniert.
room-lists-title = Abonnierte Raumlisten
room-lists-help = Jede Liste wird alle 15 Minuten gelesen. Eine Liste abonnieren Sie auf der Seite „Verbinden“ eines Profils (Räume).
room-lists-none = Keine Raumliste abonniert.
room-lists-check = Jetzt lesen
room-lists-delete = Nicht mehr folgen
room-lists-delete-help = Die Räume bleiben abonniert; neue Räume der Liste kommen nicht mehr dazu.
room-lists-profile = Über Profil { $name }
room-lists-checked = zuletzt gelesen { $time }
room-lists-error = Das letzte Lesen schlug fehl; nichts wurde geändert:
room-lists-empty = Noch keine Räume.
room-lists-membership = In der Liste
room-lists-member = in der Liste
room-lists-removed = am { $time } aus der Liste entfernt — pausiert
room-lists-paused = { $count ->
    [one] Ein Raum wurde aus der Liste entfernt und ist pausiert.
   *[other] { $count } Räume wurden aus der Liste entfernt und sind pausiert.
}
sub-removed-from-list = Dieser Raum wurde am { $time } aus seiner abonnierten Raumliste entfernt und ist pausiert; seine Termine bleiben. Er läuft wieder, sobald der Raum zurück in der Liste ist (oder setzen Sie ihn hier fort).
help-app-not-installed = Microsoft kennt diese App im Mandanten nicht: Sie ist dort nicht installiert, oder niemand hat ihr bisher zugestimmt (oder Client-ID bzw. Mandant sind falsch). Ein globaler Administrator oder Administrator für privilegierte Rollen des Mandanten öffnet den Zustimmungslink unten und stimmt zu; dann „Jetzt ein Token holen“.
profile-admin-consent = Administratorzustimmung für den ganzen Mandanten:
profile-created-app = Profil { $name } wurde angelegt. Als Nächstes: ein Token holen, um die App-Registrierung zu prüfen.
help-app-new-certificate = Laden Sie das Zertifikat unten in der App-Registrierung hoch („Zertifikate und Geheimnisse → Zertifikate“) und holen Sie dann ein Token, um es und die Anwendungsberechtigungen zu prüfen.
help-app-no-calendar-access = Microsoft Graph hat jedes Postfach verweigert, und das Token enthält keine Kalenderberechtigung: Weder Entra (Anwendungsberechtigung Calendars.Read mit Administratorzustimmung) noch Exchange Online (RBAC für Anwendungen, PowerShell unten) gewährt dieser App Zugriff. Gewähren Sie eines davon — empfohlen auf die Räume beschränkt —, warten Sie die Replikation ab (bis zu zwei Stunden), dann „Jetzt ein Token holen“.
connect-room = Raum
connect-room-list-rooms-failed = Die Räume dieser Liste konnten nicht gelesen werden:
