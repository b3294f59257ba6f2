"""The words people use to ask CETIT to stop mailing them (Dutch and Flemish, English, French).
Patterns read one sentence, in bounded stretches; a request must name what is to stop."""

from __future__ import annotations

import re

_ADVERB = r"(?:aub|asb|ajb|alstublieft|alsjeblieft|graag|nu|toch|even|maar|dan|ook|direct|onmiddellijk|meteen|gewoon|svp|please)"
_LIST = (r"(?:de|uw|uwe|jullie|je|jouw|die|deze|dat)\s{1,3}"
         r"(?:(?:mailing|verzend|adres|adressen|nieuwsbrief|e-?mail|klanten|contact|distributie)[-\s]?)?"
         r"(?:lijst(?:je)?|list|bestand|databank|database)\b")
_MAIL_NL = (r"(?:e-?mails?|mails?|e-?mailtjes|mailtjes|mailings?|nieuwsbrie\w*+|newsletters?|berichten|uitnodigingen|"
            r"reclame|publiciteit|spam|promo(?:ties?|s)?)")
_MAIL_EN = r"(?:e-?mails?|mails?|newsletters?|messages|marketing|spam|promotions?|mailings?|updates|offers|junk)"
_MAIL_FR = (r"(?:e-?mails?|mails?|courriels?|newsletters?|infolettres?|messages|envois|spams?|pubs?|publicités?|"
            r"sollicitations|lettres?\s{1,3}d['’]\s?information)")
_THE_NL = r"(?:de|die|deze|jullie|uw|uwe|het|dat|dit|je|al\s{1,3}(?:die|de|jullie|uw))"
# What "stop" must be followed by in Dutch: the mail itself, or the sending of it to me.
_STOP_WHAT_NL = (
    rf"(?:(?:{_THE_NL}\s{{1,3}})?(?:(?:sturen|zenden|versturen|toesturen|mailen)\s{{1,3}}van\s{{1,3}}(?:{_THE_NL}\s{{1,3}})?)?"
    rf"{_MAIL_NL}\b|(?:(?:mij|me|ons)\s{{1,3}}(?:te\s{{1,3}})?)?(?:mailen|e-?mailen|sturen|zenden|toesturen|versturen|"
    rf"contacteren|spammen|lastigvallen|lastig\s{{1,3}}te\s{{1,3}}vallen)\b(?!\s{{1,3}}van\b))"
)


def _one_of(inside: tuple[str, ...], starting: tuple[str, ...]) -> re.Pattern:
    """Wordings that may start inside a word (Dutch compounds: "nieuwsbriefafmelding"), and those
    that start a word, behind one word boundary so that most positions are passed at once."""
    return re.compile("|".join((*inside, r"\b(?:" + "|".join(starting) + ")")), re.I)


REQUEST = {
    "nl": _one_of(("uitschrijv", "afmeld"), (
        r"uit te schrijven", r"schrijf\s+(?:mij|me|ons)\b.{0,30}?\buit\b", r"af\s+te\s+melden",
        r"(?<!haal\s)(?<!zet\s)(?:mij|me|ons)\s+(?:graag\s+)?af\b",
        r"verwijder\w*\b.{0,60}\b(?:lijst|verzendlijst|mailinglijst|adressenbestand|bestand|database)",
        r"(?:mijn|ons|m['’]n)\s{1,3}(?:(?:oude?|vorige?|vroegere?|andere?)\s{1,3})?(?:e-?mail-?)?adres\b.{0,40}"
        r"\b(?:verwijder|schrap|wis\b|wissen)",
        # mijn oude adres mag uitgeschreven worden
        rf"\b(?:uitgeschreven|afgemeld)\s{{1,3}}(?:(?:te|{_ADVERB})\s{{1,3}}){{0,2}}worden\b",
        # haal mij eruit, zet me van de lijst, schrap mij uit jullie bestand
        rf"(?:haal|zet|gooi|smijt|doe|schrap|verwijder|wis)\s{{1,3}}(?:mij|me|ons|mijn\s{{1,3}}(?:e-?mail)?(?:adres|naam|gegevens))"
        rf"\s{{1,3}}(?:{_ADVERB}\s{{1,3}}){{0,2}}(?:er\s?uit\b|hier\s?uit\b|(?:van|uit|af)\s{{1,3}}{_LIST})",
        rf"schrap\w*+\s{{1,3}}(?:{_ADVERB}\s{{1,3}}){{0,2}}(?:mijn|ons|onze|dit|dat|het|deze)\s{{1,3}}(?:e-?mail-?)?adres\b",
        # van de lijst afhalen, uit uw bestand te schrappen, van jullie lijst af
        rf"(?:van|uit)\s{{1,3}}{_LIST}(?:\s{{1,3}}(?:te|worden|{_ADVERB})){{0,2}}\s{{1,3}}(?:(?:af)?halen|afgehaald|gehaald|"
        r"schrappen|geschrapt|verwijderen|verwijderd|wissen|gewist|weg|af)\b(?!\s{1,3}(?:welke|wat|wie|hoe|waar|wanneer|of)\b)",
        # mag ik van uw lijst?, ik wil van de lijst: the list ends the sentence
        rf"(?:wil|wilt|willen|wens|wenst|mag|mogen|zou|zouden|graag|kan|kunt|kunnen|mij|me|ons)\s{{1,3}}"
        rf"(?:(?:ik|we|wij|u|liefst|er|hier|{_ADVERB})\s{{1,3}}){{0,3}}(?:van|uit|af)\s{{1,3}}{_LIST}"
        rf"(?:\s{{1,3}}(?:af|{_ADVERB}))?\s*+(?:[.!?,]|$)",
        # ik wil niks meer ontvangen, ik hoef niets meer van jullie
        rf"(?:wil|wilt|willen|wens|wenst|wensen|hoef|hoeft|hoeven)\s{{1,3}}(?:(?:ik|we|wij|echt|liefst|verder|voortaan|"
        rf"dus|zelf|helemaal|absoluut|{_ADVERB})\s{{1,3}}){{0,3}}(?:niks|niets)\s{{1,3}}meer\b(?:\s{{1,3}}(?:van\s{{1,3}}"
        r"(?:jullie|u|cetit|jou)\s{1,3})?(?:te\s{1,3})?(?:ontvangen|krijgen|hebben|horen|zien|weten|gemaild)\b|"
        r"(?:\s{1,3}van\s{1,3}(?:jullie|u|cetit|jou))?\s*+(?:[.!,]|$))",
        # stop met mailen, stop de nieuwsbrief; kunnen jullie stoppen met mailen?; de mails stopzetten
        rf"stop\s{{1,3}}(?:(?:ermee|daarmee|eens|dus|{_ADVERB})\s{{1,3}}){{0,2}}(?:met\s{{1,3}}(?:het\s{{1,3}})?)?{_STOP_WHAT_NL}",
        rf"(?:gelieve|graag|aub|asb|ajb|kan|kunt|kunnen|wil|wilt|willen|mag|mogen|zou|zouden|moet|moeten)\s{{1,3}}"
        rf"(?:(?:je|jij|u|jullie|ge|gij|te|dat|eens|{_ADVERB})\s{{1,3}}){{0,3}}stoppen\s{{1,3}}met\s{{1,3}}(?:het\s{{1,3}})?"
        rf"{_STOP_WHAT_NL}",
        rf"{_MAIL_NL}\s{{1,3}}(?:(?:te|{_ADVERB})\s{{1,3}}){{0,2}}(?:stop\s{{0,2}}(?:te\s{{1,3}})?zetten|stopzetten)\b",
    )),
    "en": _one_of(("un-?subscri",), (
        r"take me off", r"remove my\s+(?:e-?mail\s+)?(?:address|name|details)",
        # remove me, but not from a meeting or a call
        r"remove me\b(?!\s{1,3}from\s{1,3}(?:(?:the|this|that|our|your|tomorrow['’]s|today['’]s)\s{1,3})?"
        r"(?:meeting|call|invite|invitation|calendar|event|thread|conversation|chat|group|project|agenda|appointment)s?\b)",
        # remove my old address (from your list); remove jan@old.example from your mailing list
        r"remove\s{1,3}(?:my|our)\s{1,3}(?:old|previous|former|other|work)\s{1,3}(?:e-?mail\s{1,3})?address",
        r"remove\b.{0,80}\bfrom\s{1,3}(?:(?:your|the|all\s{1,3}your|this)\s{1,3})?(?:(?:mailing|e-?mail|distribution|"
        r"contact|newsletter|marketing)\s{1,3})?(?:list|lists|database)\b",
        # stop sending to jan@old.example, stop sending newsletters to my old address
        r"stop\s{1,3}sending(?:\s{1,3}(?:anything|mail|e-?mails?|newsletters?|them|it))?\s{1,3}to\s{1,3}"
        r"(?:(?:my|this|that|the)\s{1,3}(?:(?:old|previous|former)\s{1,3})?(?:e-?mail\s{1,3})?address\b|[^\s@]{1,64}+@)",
        r"stop\s+(?:e-?mailing|mailing|contacting|spamming|messaging)", r"opt(?:ed)?[- ]out", r"opt\s{1,3}(?:me|us)\s{1,3}out",
        r"no longer\s+(?:wish|want)\s+to\s+receive", r"do(?:\s+not|n['’]t)\s+(?:contact|e-?mail|mail|message)\s+(?:me|us)\b",
        r"off (?:your|the) (?:mailing )?list",
        # stop the emails; stop sending (me the newsletter); don't send me any more emails
        r"stop\s{1,3}(?:(?:please|now|just|all)\s{1,3}){0,2}(?:(?:the|your|these|those|this|any|all\s{1,3}(?:the|your|"
        rf"these|those))\s{{1,3}})?{_MAIL_EN}\b",
        rf"stop\s{{1,3}}sending\b(?:\s{{1,3}}(?:me|us))?(?:\s{{1,3}}(?:the|your|these|those|this|any|all|more))?"
        rf"(?:\s{{1,3}}(?:{_MAIL_EN}|stuff|things|anything|them|it)\b|\s*+(?:[.!,]|$))",
        rf"do(?:\s+not|n['’]t)\s+send\s+(?:me|us)(?:\s{{1,3}}(?:any\s?more|more|any|these|your|the|further)){{0,2}}"
        rf"(?:\s{{1,3}}(?:{_MAIL_EN}|anything)\b|\s*+(?:[.!,]|$))",
        r"(?:do\s{1,3}not|don['’]?t|no\s{1,3}longer)\s{1,3}(?:wish|want|need)\s{1,3}(?:to\s{1,3}(?:receive|get)\s{1,3})?"
        rf"(?:(?:any\s?more|these|your|the|any|those|further|more|all)\s{{1,3}}){{0,2}}{_MAIL_EN}\b",
    )),
    "fr": _one_of((
        r"d[ée]sabonn", r"d[ée]sinscri",
        rf"(?:^|[,:;])\s*+(?:merci\s{{1,3}})?plus\s{{1,3}}(?:de\s{{1,3}}|d['’]\s?){_MAIL_FR}",  # plus de mails svp
    ), (
        r"ne\s+(?:plus|pas)\s+(?:me\s+)?(?:recevoir|envoyer)", r"ne\s+souhaite\s+plus\s+recevoir",
        r"ne\s+(?:veux|désire|desire)\s+plus\s+recevoir",
        r"(?:retirer|supprimer|effacer|enlever|rayer)\s+(?:mon|mes|notre|nos)\s+(?:adresses?|e-?mails?|coordonnées|noms?)",
        # retirer mon ancienne adresse
        r"(?:retir|supprim|effac|enlev|ray)(?:er|ez)\s{1,3}(?:mon|notre|cette)\s{1,3}(?:ancienne|vieille|autre|précédente)"
        r"\s{1,3}(?:adresse|e-?mail)",
        r"me\s+retirer\s+de", r"(?:retirez|supprimez|enlevez|effacez|rayez|ôtez|otez|sortez)[-\s]moi\b",
        r"ne\s{1,3}plus\s{1,3}(?:me\s{1,3}|m['’]\s?|nous\s{1,3})(?:envoyer|écrire|ecrire|contacter|solliciter|mailer)",
        r"ne\s{1,3}(?:veux|voudrais|souhaite|souhaiterais|désire|desire|désirerais)\s{1,3}plus\s{1,3}(?:recevoir|"
        rf"(?:être|etre)\s{{1,3}}(?:contacté|sollicité|dérangé)|(?:de\s{{1,3}}|d['’]\s?)(?:(?:vos|ces|tes|votre)\s{{1,3}})?{_MAIL_FR})",
        # arrêtez de m'envoyer des mails, arrêtez l'envoi des newsletters
        r"(?:arr[êe]t|stopp)(?:ez|er|e|es)\s{1,3}(?:(?:svp|donc|immédiatement)\s{1,3})?(?:de\s{1,3}|d['’]\s?)"
        r"(?:m['’]\s?|me\s{1,3}|nous\s{1,3})(?:envoyer|écrire|ecrire|contacter|spammer|harceler|solliciter|inonder|mailer)",
        r"(?:arr[êe]t|stopp)(?:ez|er|e|es)\s{1,3}(?:svp\s{1,3})?(?:(?:les|vos|ces|la|votre|cette|tous\s{1,3}(?:ces|vos))\s{1,3}|"
        rf"l['’]\s?)(?:envois?\s{{1,3}}(?:de\s{{1,3}}|des\s{{1,3}}|d['’]\s?)(?:(?:vos|ces)\s{{1,3}})?)?{_MAIL_FR}",
    )),
}
# "No more mail" is a wish only when the sentence does not report what arrived ("ik ontvang
# geen nieuwsbrief meer", "I got no more emails") without a word of wanting.
NO_LONGER = {
    "nl": re.compile(
        rf"geen\s+(?:(?:verdere|andere)\s+)?{_MAIL_NL}\s+meer|geen\s+verdere\s+{_MAIL_NL}\b|"
        r"niet\s+(?:meer|langer)\s+(?:te\s+)?(?:ontvangen|mailen|e-?mailen|contacteren|gemaild|gecontacteerd|benaderen|lastigvallen)",
        re.I,
    ),
    "en": re.compile(rf"\bno\s{{1,3}}more\s{{1,3}}{_MAIL_EN}\b", re.I),
}
RECEIPT = re.compile(
    r"\b(?:ik|we|wij|i)\s{1,3}(?:(?:heb|hebben|had|hadden|have|has|did|do|am|are|was|were|haven['’]t|didn['’]t|"
    r"don['’]t)\s{1,3}(?:(?:nog|al|ook|echt|niet|not|never|nooit|no)\s{1,3})?)?(?:ontvang|ontvangen|ontving|ontvingen|"
    r"krijg|krijgen|kreeg|kregen|gekregen|heb|hebben|receive|received|receiving|get|got|getting|gotten|have|had)\b|"
    r"\b(?:ontvang|ontving|ontvingen|krijg|kreeg|kregen)\s{1,3}(?:ik|we|wij)\b|"
    r"\b(?:heb|hebben|heeft)\b[^.!?\n]{0,80}?\b(?:ontvangen|gekregen)\b",
    re.I,
)
WISH = re.compile(
    r"\b(?:wil|wilt|willen|wens|wenst|wensen|graag|liever|gelieve|aub|asb|ajb|alstublieft|alsjeblieft|hoef|hoeven|"
    r"(?:vraag|vroeg|gevraagd)\s{1,3}(?:(?:u|jullie|je|al)\s{1,3})?om|want|wish|please|prefer|would\s{1,3}like)\b",
    re.I,
)
# "niet uitschrijven", "don't stop sending", "je ne veux pas me désabonner", "n'arrêtez pas";
# only words of wanting may stand between the negation and the request ("not interested,
# unsubscribe" and "not interested stop emailing me" are requests).
NEGATED = re.compile(
    r"\b(?:niet|not|don['’]?t|didn['’]?t|haven['’]?t|do\s+not|pas|never|nooit|jamais)\s++(?:(?:want|wish|need|to|be|get|asked|requested|wil|"
    r"wens|willen|te|om|laten|worden|gevraagd|zeker|me|mij|ons|jullie|u|you|dat|je|ik|i|we|veux|souhaite|vouloir|"
    r"voulu|demandé|à|de|être|like|really|echt|graag|helemaal|zomaar|absoluut|surtout|vraiment)\s++){0,3}(?:uitschrij\w*+|uitgeschreven|uit\s++te\s++schrijven|afmeld\w*+|afgemeld|"
    r"af\s++te\s++melden|unsubscrib\w*+|d[ée]sabonn\w*+|d[ée]sinscri\w*+|stop\w*+|arr[êe]t\w*+|remove\w*+|verwijder\w*+)|"
    r"\bn['’]\s?(?:arr[êe]t|stopp)\w*+\s++pas\b",
    re.I,
)
# A negation of being able is a failed attempt, not a refusal: "ik kan mij niet uitschrijven".
UNABLE = re.compile(
    r"\b(?:kan|kon|kunnen|konden|lukt|lukte|can|could|peux|pouvais|parviens|arrive|arrivais)\s++"
    r"(?:(?:ik|het|me|mij|mezelf|u|je|we|wij|ons|jullie|i)\s++){0,2}(?:niet|not|pas)\b",
    re.I,
)

# One word that asks on its own when it is all the person wrote, with its language (None:
# the language of the words around it, else Dutch). The ambiguous ones ("stop") name no object.
ALONE = {
    "stop": None, "stoppen": "nl", "stopzetten": "nl", "uitschrijven": "nl", "uitschrijving": "nl",
    "afmelden": "nl", "afmelding": "nl", "verwijderen": "nl", "schrappen": "nl", "unsubscribe": "en",
    "unsub": "en", "remove": "en", "optout": "en", "désabonner": "fr", "desabonner": "fr",
    "désabonnement": "fr", "desabonnement": "fr", "désinscription": "fr", "desinscription": "fr",
    "désinscrire": "fr", "arrêt": "fr", "arret": "fr", "arrêter": "fr", "arreter": "fr", "arrêtez": "fr",
    "arretez": "fr", "stoppez": "fr",
}
AMBIGUOUS = frozenset({"stop", "stoppen", "stopzetten", "verwijderen", "schrappen", "remove", "arrêt", "arret",
                       "arrêter", "arreter", "arrêtez", "arretez", "stoppez"})
# What may stand around that word: politeness, thanks and closings, with the language they tell.
FILLERS = {
    **dict.fromkeys(("aub", "asb", "ajb", "alstublieft", "alsjeblieft", "astublieft", "graag", "bedankt", "dank",
                     "dankjewel", "dankuwel", "danku", "merci", "groeten", "groetjes", "groet", "mvg", "vg", "grtz",
                     "hoor", "dus", "maar", "toch", "nu", "ermee", "daarmee", "onmiddellijk", "meteen", "direct",
                     "dringend", "alles"), "nl"),
    **dict.fromkeys(("please", "pls", "plz", "thanks", "thx", "ty", "regards", "cheers", "now", "immediately",
                     "asap", "it", "all"), "en"),
    **dict.fromkeys(("svp", "stp", "cordialement", "salutations", "bav", "immédiatement", "tout"), "fr"),
    **dict.fromkeys(("ok", "oké", "okay", "urgent", "bye", "ciao"), None),
}
GREETINGS = frozenset({
    "hallo", "hello", "hi", "hey", "hoi", "dag", "goedendag", "goeiedag", "goedemorgen", "goeiemorgen",
    "goedemiddag", "goeiemiddag", "goedenavond", "beste", "geachte", "dear", "bonjour", "bonsoir", "salut",
    "madame", "monsieur", "mevrouw", "meneer", "mijnheer", "sir", "madam",
})
ADDRESSEES = frozenset({"team", "allen", "iedereen", "all", "there", "cetit", "heer", "mevrouw", "meneer", "madame",
                        "monsieur", "sir", "madam", "sirs", "dames", "heren", "en", "and", "et", "mesdames",
                        "messieurs", "daar", "info", "ploeg"})
# Phrases of several words that count as one filler, read away before the words are weighed.
FILLER_PHRASES = re.compile(
    r"\b(?:met\s{1,3})?vriendelijke\s{1,3}groet(?:en)?\b|\bs['’]il\s{1,3}(?:vous|te)\s{1,3}pla[iî]t\b|"
    r"\bthank\s{1,3}you(?:\s{1,3}very\s{1,3}much)?\b|\bdank\s{1,3}(?:u|je)(?:\s{1,3}wel)?\b|"
    r"\b(?:kind|best|warm)\s{1,3}regards\b|\bbien\s{1,3}à\s{1,3}vous\b|\bbonne\s{1,3}journée\b|"
    r"\bmany\s{1,3}thanks\b|\balvast\s{1,3}bedankt\b|\bbij\s{1,3}voorbaat\s{1,3}dank\b|\bmerci\s{1,3}beaucoup\b|"
    r"\bveel\s{1,3}dank\b|\bvan\s{1,3}harte\b|\ba\.u\.b\b|\bs\.v\.p\b",
    re.I,
)
# A phone's or a mail program's line at the end ("Verstuurd vanaf mijn iPhone").
DEVICE_LINE = re.compile(
    r"(?:sent\s{1,3}from|verstuurd\s{1,3}(?:vanaf|met|via)|verzonden\s{1,3}(?:vanaf|met|via)|envoyé\s{1,3}(?:de|depuis)|"
    r"get\s{1,3}outlook\s{1,3}for|outlook\s{1,3}voor|télécharger\s{1,3}outlook)\b[^\n]{0,60}+",
    re.I,
)
# A verb of stopping or cancelling: a bare "Stop" means that, when the rest of the mail has one.
OTHER_STOP = re.compile(
    r"\b(?:stop\w*+|arr[êe]t\w*+|halt\w*+|remove\w*+|verwijder\w*+|schrap\w*+|annul\w*+|cancel\w*+)",
    re.I,
)
