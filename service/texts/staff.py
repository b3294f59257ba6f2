"""The staff console's texts: Dutch by default (CETIT's staff are Flemish), English on request. Keyed
by the English text, not by name, because templates/staff/*.html write t("English") throughout and
read as the page; `word` says a kept value (a reason, a source, a status) as an office worker does."""

from __future__ import annotations

from ..domain.campaigns.model import CampaignStatus, PausedBy
from ..domain.consent.rules import ConsentSource
from ..domain.events.model import HistoryType
from ..domain.inbound.model import BounceKind, Classification, InboundStatus
from ..domain.outbox import OutboxKind
from ..domain.suppressions.model import Reason, Source
from ..domain.suppressions.rules import GLOBAL

LANGUAGES = ("nl", "en")

DUTCH = {
    # layout, login
    "Log out": "Afmelden",
    "Language": "Taal",
    "Staff login": "Aanmelden voor medewerkers",
    "Log in": "Aanmelden",
    "API key (scope write or admin)": "Sleutel (API key met recht write of admin)",
    "Your key is a long code that starts with oo_. Ask whoever runs optout at CETIT for one; they make it "
    "with optout keys create YOUR-NAME --scope write. Keep it to yourself: it stands for you in the history.":
        "Uw sleutel is een lange code die begint met oo_. Vraag er een aan wie optout bij CETIT beheert; die maakt "
        "ze met optout keys create UW-NAAM --scope write. Houd ze voor uzelf: ze staat voor u in de geschiedenis.",
    "This key is unknown, revoked, or lacks the write scope.":
        "Deze sleutel is onbekend, ingetrokken, of heeft het recht write niet.",
    "The form expired; log in again.": "Het formulier is verlopen; meld u opnieuw aan.",
    "The form could not be read; log in again.": "Het formulier kon niet gelezen worden; meld u opnieuw aan.",
    "The database cannot be reached; try again in a minute.":
        "De databank is niet bereikbaar; probeer het over een minuut opnieuw.",
    "Too many failed logins from here; wait a minute and try again.":
        "Te veel mislukte aanmeldingen van hier; wacht een minuut en probeer opnieuw.",
    "Overview": "Overzicht",
    "Back": "Terug",
    # dashboard: a phone call
    "Phone call": "Telefoontje",
    "The person wants no more mail": "De persoon wil geen mails meer",
    "The person agrees to receive mail": "De persoon wil wel mails ontvangen",
    "Email address": "E-mailadres",
    "Which mail": "Welke mails",
    "Note (who called, when)": "Notitie (wie belde, wanneer)",
    "Record the opt-out": "Uitschrijving vastleggen",
    "What you read to them and they agreed to": "Wat u voorlas en waarmee de persoon akkoord ging",
    "Record the consent": "Toestemming vastleggen",
    "All marketing (every scope)": "Alle marketingmails",
    "Open privacy requests": "Open privacyverzoeken",
    "Due": "Uiterlijk",
    "Kind": "Soort",
    "From": "Van",
    "Open": "Openen",
    "days left": "dagen over",
    "days late": "dagen te laat",
    "No open requests.": "Geen open verzoeken.",
    "(erased)": "(gewist)",
    "Find an address": "Adres opzoeken",
    "Find": "Zoeken",
    "Last 30 days": "Laatste 30 dagen",
    "Unsubscribes": "Uitschrijvingen",
    "Hard bounces": "Onbestelbaar",
    "Soft bounces": "Tijdelijk onbestelbaar",
    "Complaints": "Klachten",
    "Consents given": "Toestemmingen gegeven",
    "Consents withdrawn": "Toestemmingen ingetrokken",
    "Unsubscribes by source": "Uitschrijvingen per bron",
    "Other sources": "Andere bronnen",
    "None.": "Geen.",
    "Waiting for staff": "Wacht op een medewerker",
    "held message(s)": "bericht(en) om te lezen",
    "failed message(s)": "bericht(en) die niet verwerkt konden worden",
    "copies or deliveries given up": "mails of meldingen niet verstuurd",
    # an address
    "Suppressed": "Geblokkeerd",
    "Scope": "Soort mails",
    "Reason": "Reden",
    "Source": "Bron",
    "Since": "Sinds",
    "Note": "Notitie",
    "Not suppressed: this address may receive marketing mail.":
        "Niet geblokkeerd: dit adres mag marketingmails ontvangen.",
    "This address was erased on request; it stays blocked in every scope.":
        "Dit adres werd op verzoek gewist; het blijft voor alle mails geblokkeerd.",
    "Record an opt-out given by phone": "Telefonische uitschrijving vastleggen",
    "Suppress": "Blokkeren",
    "Lift a suppression": "Blokkering opheffen",
    "Evidence: why this person may be mailed again": "Waarom deze persoon weer mails mag krijgen",
    "Also lift a bounce or complaint": "Ook een bounce of klacht opheffen",
    "Lift": "Opheffen",
    "Consents": "Toestemmingen",
    "Status": "Stand",
    "Given": "Gegeven",
    "History": "Geschiedenis",
    "When": "Wanneer",
    "What": "Wat",
    "No history.": "Geen geschiedenis.",
    "Recorded.": "Vastgelegd.",
    "It was already suppressed in that scope.": "Dit adres was voor die mails al geblokkeerd.",
    "Lifted.": "Opgeheven.",
    "Consent recorded.": "Toestemming vastgelegd.",
    "Note: scope {scope} is not registered (registered: {registered}).":
        "Let op: {scope} is geen gekende soort mails (gekend: {registered}).",
    " Did you mean {close}?": " Bedoelde u {close}?",
    # a privacy request
    "Privacy request {id}": "Privacyverzoek {id}",
    "received": "ontvangen",
    "Read the mail": "De mail lezen",
    "Asked on the own page": "Gevraagd op de eigen pagina",
    "What CETIT holds": "Wat CETIT bijhoudt",
    "suppression(s)": "blokkering(en)",
    "consent(s)": "toestemming(en)",
    "event(s)": "gebeurtenis(sen)",
    "stored message(s)": "bewaarde bericht(en)",
    "Open as a page (print or save as PDF)": "Openen als pagina (afdrukken of bewaren als PDF)",
    "Download as JSON": "Downloaden als JSON",
    "Close the request": "Verzoek afsluiten",
    "What was done": "Wat werd gedaan",
    "Close": "Afsluiten",
    "Closed": "Afgesloten",
    "by": "door",
    "an address since erased": "een intussen gewist adres",
    "Privacy request {id} closed.": "Privacyverzoek {id} afgesloten.",
    "Data held about {email}": "Gegevens over {email}",
    "What CETIT holds about {email}, made on request (GDPR Art. 15).":
        "Wat CETIT bijhoudt over {email}, opgemaakt op verzoek (AVG art. 15).",
    "Unsubscribes and blocks": "Uitschrijvingen en blokkeringen",
    "Text": "Tekst",
    "Confirmed": "Bevestigd",
    "Withdrawn": "Ingetrokken",
    "Stored messages": "Bewaarde berichten",
    "message(s) from or about this address.": "bericht(en) van of over dit adres.",
    # messages
    "Messages for staff": "Berichten voor medewerkers",
    "Mail to {mailto} that a person must read, or that could not be processed, newest first.":
        "Mails aan {mailto} die een medewerker moet lezen, of die niet verwerkt konden worden, nieuwste eerst.",
    "Received": "Ontvangen",
    "Subject": "Onderwerp",
    "(no subject)": "(geen onderwerp)",
    "Nothing is waiting.": "Er wacht niets.",
    "To": "Aan",
    "Date": "Datum",
    "Send to {forward_to}": "Doorsturen naar {forward_to}",
    "Mark as handled": "Markeren als afgehandeld",
    "All messages for staff": "Alle berichten voor medewerkers",
    "Queued for forwarding.": "Klaar om door te sturen.",
    "Marked as handled.": "Gemarkeerd als afgehandeld.",
    "Message": "Bericht",
    "The raw message was deleted after the retention period of {days} days from its processing. What was "
    "decided about it is kept below.":
        "Het bericht zelf werd gewist na de bewaartermijn van {days} dagen na de verwerking. Wat ermee gebeurde, "
        "staat hieronder.",
    "Processed": "Verwerkt",
    "Addresses": "Adressen",
    "Actions": "Acties",
    # not sent
    "Not sent": "Niet verstuurd",
    "What optout gave up sending: a copy the relay refused or could not take for days, a webhook delivery its "
    "receiver did not take for days. Newest first.":
        "Wat optout niet kon versturen: een mail die de mailserver weigerde of dagenlang niet aannam, een melding "
        "die een ander systeem dagenlang niet aannam. Nieuwste eerst.",
    "Given up": "Opgegeven",
    "Tries": "Pogingen",
    "Last error": "Laatste fout",
    "Send again": "Opnieuw versturen",
    "Discard": "Weggooien",
    "Everything was sent.": "Alles werd verstuurd.",
    "Queued to be sent again.": "Klaar om opnieuw te versturen.",
    "Discarded.": "Weggegooid.",
    # lists
    "Lists": "Lijsten",
    "Import a list of opt-outs": "Een lijst uitschrijvingen inlezen",
    "A CSV file (as Excel saves it, with ; or ,) or NDJSON. One address per line, or a header row naming the "
    "columns: email (or E-mail), scope, reason, source, note. Nothing is changed unless the whole file is read.":
        "Een CSV-bestand (zoals Excel het bewaart, met ; of ,) of NDJSON. Eén adres per regel, of een eerste regel die "
        "de kolommen noemt: email (of E-mail), scope, reason, source, note. Er verandert niets tenzij het hele bestand "
        "gelezen kon worden.",
    "File": "Bestand",
    "Import": "Inlezen",
    "Download the whole list": "De hele lijst downloaden",
    "Nothing could be imported. The file needs an address in each line, or a header row naming its columns (email "
    "or E-mail, scope, reason, source, note), separated by ',' or ';'.":
        "Er kon niets ingelezen worden. Het bestand heeft een adres per regel nodig, of een eerste regel die de "
        "kolommen noemt (email of E-mail, scope, reason, source, note), gescheiden door ',' of ';'.",
    "lines read": "regels gelezen",
    "imported": "ingelezen",
    "already suppressed": "waren al uitgeschreven",
    "not imported": "niet ingelezen",
    "Lines not imported": "Niet ingelezen regels",
    "Line": "Regel",
    "Choose a file to import.": "Kies een bestand om in te lezen.",
    "The form cannot be read: choose a file and send it again.":
        "Het formulier kon niet gelezen worden: kies het bestand en verstuur opnieuw.",
    # campaigns
    "Campaigns": "Campagnes",
    "Complaints and hard bounces per campaign": "Klachten en onbestelbare adressen per campagne",
    "Paused campaigns": "Gepauzeerde campagnes",
    "Each campaign's recipients and the reports about them, counted since it began or was last resumed. Paused "
    "campaigns first, then the newest.":
        "Per campagne de ontvangers en de meldingen over hen, geteld sinds de campagne begon of het laatst werd "
        "hervat. Eerst de gepauzeerde campagnes, dan de nieuwste.",
    "Complaint rate": "Klachtenpercentage",
    "Hard-bounce rate": "Percentage onbestelbaar",
    "Judged from": "Beoordeeld vanaf",
    "{min_sent} recipients sent.": "{min_sent} verzonden ontvangers.",
    "Gmail and Yahoo: keep under {keep_under}, never reach {never_reach}.":
        "Gmail en Yahoo: onder {keep_under} blijven, {never_reach} nooit bereiken.",
    "optout pauses a campaign at {limit}.": "optout pauzeert een campagne bij {limit}.",
    "limits {keep_under} / {never_reach}, pause at {limit}": "grenzen {keep_under} / {never_reach}, pauze bij {limit}",
    "pause at {limit}": "pauze bij {limit}",
    "Paused": "Gepauzeerd",
    "Active": "Actief",
    "Sent": "Verzonden",
    "Counted since": "Geteld sinds",
    "resumed by {name}": "hervat door {name}",
    "complaint rate": "klachtenpercentage",
    "hard-bounce rate": "percentage onbestelbaar",
    "{count} complaint": "{count} klacht",
    "{count} complaints": "{count} klachten",
    "{count} hard bounce": "{count} onbestelbaar adres",
    "{count} hard bounces": "{count} onbestelbare adressen",
    "Paused on {when}: {what} {rate} ({counted} of {sent} sent) reached the limit of {limit}":
        "Gepauzeerd op {when}: {what} {rate} ({counted} op {sent} verzonden) bereikte de grens van {limit}",
    "Paused on {when}: {what} {rate} reached the limit of {limit}":
        "Gepauzeerd op {when}: {what} {rate} bereikte de grens van {limit}",
    "Why is it safe to send this campaign again?": "Waarom is het veilig om deze campagne verder te versturen?",
    "Only an admin key may resume a campaign: log in with one.":
        "Alleen een sleutel met recht admin kan een campagne hervatten: meld u daarmee aan.",
    "Resume the campaign": "Campagne hervatten",
    "Campaign {name} resumed: its rates count again from now.":
        "Campagne {name} hervat: de percentages worden vanaf nu opnieuw geteld.",
    "No campaigns yet: a campaign is named when links are issued in it.":
        "Nog geen campagnes: een campagne krijgt een naam wanneer er links voor gemaakt worden.",
    "Only the newest {shown} campaigns are shown.": "Alleen de {shown} nieuwste campagnes worden getoond.",
    # errors
    "Database unavailable": "Databank niet bereikbaar",
    "The database cannot be reached; nothing was changed. Try again in a minute.":
        "De databank is niet bereikbaar; er is niets veranderd. Probeer het over een minuut opnieuw.",
    "The form expired: reload the page and try again.": "Het formulier is verlopen: laad de pagina opnieuw.",
    "There is no such message.": "Dit bericht bestaat niet.",
    "There is no such row.": "Deze regel bestaat niet.",
    "This message is no longer held.": "Dit bericht wacht niet meer op een medewerker.",
    "This row is no longer there, or cannot be sent again.": "Deze regel is er niet meer, of kan niet opnieuw verstuurd worden.",
    "This row is no longer there.": "Deze regel is er niet meer.",
    "A request id is a whole number.": "Het nummer van een verzoek is een geheel getal.",
    "This request's address was erased: there is nothing left to export.":
        "Het adres van dit verzoek werd gewist: er valt niets meer uit te voeren.",
    "Say why this person may be mailed again in 'evidence'.": "Zeg waarom deze persoon weer mails mag krijgen.",
    "Say what was done in 'note'.": "Zeg wat er werd gedaan.",
    "There is nothing here.": "Hier is niets.",
    "Only an admin key may resume a campaign.": "Alleen een sleutel met recht admin kan een campagne hervatten.",
    "Say in 'note' why it is safe to send this campaign again.":
        "Zeg waarom het veilig is om deze campagne verder te versturen.",
    "This campaign is not paused.": "Deze campagne is niet gepauzeerd.",
    "No campaign has this name: it gets one when links are issued in it.": "Er is geen campagne met deze naam.",
    "'note' is longer than 2000 characters.": "De uitleg is langer dan 2000 tekens.",
    "Something in the request is not valid.": "Iets in het formulier klopt niet.",
}

# What the service keeps, as staff say it: one row per value, (Dutch, English), keyed by the
# domain's own names so that a new value without words fails tests/web/test_staff_words.py.
_KEPT: dict[str, dict[str, tuple[str, str]]] = {
    "reason": {
        Reason.UNSUBSCRIBE: ("uitgeschreven", "unsubscribed"),
        Reason.COMPLAINT: ("klacht (als spam gemeld)", "complaint (marked as spam)"),
        Reason.BOUNCE: ("adres werkt niet", "address does not work"),
        Reason.MANUAL: ("door een medewerker", "by staff"),
        Reason.NO_CONSENT: ("geen toestemming", "no consent"),
        PausedBy.COMPLAINT_RATE: ("te veel klachten", "too many complaints"),
        PausedBy.HARD_BOUNCE_RATE: ("te veel adressen die niet werken", "too many addresses that do not work"),
    },
    "source": {
        Source.ONE_CLICK: ("knop in de mailbox", "button in the mailbox"),
        Source.LINK: ("link onderaan de mail", "link at the bottom of the mail"),
        Source.REPLY: ("antwoord per mail", "reply by mail"),
        Source.DSN: ("melding van een mailserver", "report from a mail server"),
        Source.VERP: ("melding van een mailserver", "report from a mail server"),
        Source.ARF: ("spammelding van de provider", "provider's spam report"),
        Source.API: ("ander programma", "another program"),
        Source.PHONE: ("telefoon", "phone"),
        Source.IMPORT: ("ingelezen lijst", "imported list"),
        Source.GATEWAY: ("verzendserver", "sending server"),
        Source.SELF_SERVICE: ("eigen pagina van de persoon", "the person's own page"),
        ConsentSource.WEB_FORM: ("formulier op de website", "form on the website"),
        ConsentSource.EVENT: ("evenement", "event"),
        "guardrail": ("automatische bewaking van de campagne", "the campaign's automatic guard"),
        "staff": ("console voor medewerkers", "staff console"),
    },
    "status": {
        InboundStatus.QUEUED: ("wacht op verwerking", "waiting to be processed"),
        InboundStatus.PROCESSED: ("verwerkt", "processed"),
        InboundStatus.FORWARDED: ("doorgestuurd", "forwarded"),
        InboundStatus.HELD: ("wacht op een medewerker", "waiting for staff"),
        InboundStatus.FAILED: ("kon niet verwerkt worden", "could not be processed"),
        "pending": ("wacht op bevestiging", "awaiting confirmation"),
        "given": ("gegeven", "given"),
        "withdrawn": ("ingetrokken", "withdrawn"),
        "open": ("open", "open"),
        "closed": ("afgesloten", "closed"),
        CampaignStatus.ACTIVE: ("actief", "active"),
        CampaignStatus.PAUSED: ("gepauzeerd", "paused"),
    },
    "classification": {
        Classification.UNSUBSCRIBE: ("uitschrijving", "unsubscribe"),
        Classification.BOUNCE: ("onbestelbaar", "undeliverable"),
        Classification.COMPLAINT: ("klacht", "complaint"),
        Classification.AUTO_REPLY: ("automatisch antwoord", "automatic reply"),
        Classification.HUMAN: ("vraag van een persoon", "a person's question"),
        Classification.PRIVACY_REQUEST: ("privacyverzoek", "privacy request"),
    },
    "kind": {
        "access": ("inzage", "access"),
        "correction": ("verbetering", "correction"),
        "erasure": ("gegevens wissen", "erasure"),
        "objection": ("bezwaar tegen marketing", "objection to marketing"),
        OutboxKind.FORWARD: ("doorsturen", "forward"),
        OutboxKind.GATEWAY: ("mail via de verzendserver", "mail through the gateway"),
        OutboxKind.CONFIRMATION: ("bevestigingsmail", "confirmation mail"),
        OutboxKind.SELF_SERVICE: ("link naar de eigen pagina", "link to the own page"),
        OutboxKind.WEBHOOK: ("melding aan een ander systeem", "notice to another system"),
        BounceKind.HARD: ("blijvend", "permanent"),
        BounceKind.SOFT: ("tijdelijk", "temporary"),
    },
    "event": {
        HistoryType.SUPPRESSED: ("geblokkeerd", "blocked"),
        HistoryType.LIFTED: ("vrijgegeven", "lifted"),
        HistoryType.RESUBSCRIBED: ("opnieuw ingeschreven", "subscribed again"),
        HistoryType.IMPORTED: ("lijst ingelezen", "list imported"),
        HistoryType.SOFT_BOUNCE: ("tijdelijk onbestelbaar", "temporarily undeliverable"),
        HistoryType.ERASED: ("gewist", "erased"),
        HistoryType.CONSENT_REQUESTED: ("bevestiging gevraagd", "confirmation asked"),
        HistoryType.CONSENT_GIVEN: ("toestemming gegeven", "consent given"),
        HistoryType.CONSENT_WITHDRAWN: ("toestemming ingetrokken", "consent withdrawn"),
        HistoryType.REQUEST: ("privacyverzoek ontvangen", "privacy request received"),
        HistoryType.CAMPAIGN_PAUSED: ("campagne gepauzeerd", "campaign paused"),
        HistoryType.CAMPAIGN_RESUMED: ("campagne hervat", "campaign resumed"),
    },
    "scope": {GLOBAL: ("alle marketingmails", "all marketing mail")},
}
WORDS = {lang: {kind: {str(value): said[i] for value, said in rows.items()} for kind, rows in _KEPT.items()}
         for i, lang in enumerate(LANGUAGES)}


# Months as the console writes a date ("6 december 2026 om 14:03").
MONTHS = {
    "nl": ("januari", "februari", "maart", "april", "mei", "juni", "juli", "augustus", "september", "oktober",
           "november", "december"),
    "en": ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
           "November", "December"),
}


class Translator:
    """`t("English text", **values)` in the reader's language; `word(kind, value)` for a kept value."""

    def __init__(self, lang: str):
        self.lang = lang

    def __call__(self, text: str, **values) -> str:
        translated = DUTCH.get(text, text) if self.lang == "nl" else text
        return translated.format(**values) if values else translated

    def word(self, kind: str, value: str | None) -> str:
        if value is None:
            return ""
        return WORDS[self.lang].get(kind, {}).get(value, value)
