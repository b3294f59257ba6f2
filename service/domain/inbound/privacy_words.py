"""The words of a privacy request (Dutch and Flemish, English, French), as tables.
Entries are written as people write them; a final "*" matches the start of a word."""

from __future__ import annotations

# What the person wants done: a verb or noun of the kind, by language.
ACTIONS: dict[str, dict[str, tuple[str, ...]]] = {
    "access": {
        "nl": ("inzage", "inzien", "inkijken", "kopie", "afschrift", "overzicht", "opvragen", "zien", "bekijken",
               "weten"),
        "en": ("access", "copy", "see", "view", "obtain", "know", "export", "show", "find out"),
        "fr": ("accès", "accéder", "copie", "consulter", "obtenir", "voir", "savoir", "connaître"),
    },
    "correction": {
        "nl": ("verbeter*", "corrigeer", "corrigeert", "corrigeren", "gecorrigeerd", "aanpassen", "aangepast",
               "aan te passen", "wijzig", "wijzigt", "wijzigen", "gewijzigd", "bijwerken", "bij te werken", "bijgewerkt",
               "rechtzetten", "recht te zetten", "actualiseren", "klopt niet", "kloppen niet", "fout", "foute",
               "onjuist", "onjuiste", "verkeerd", "verkeerde", "verouderd", "verouderde"),
        "en": ("correct", "corrected", "rectify", "rectified", "update", "updated", "fix", "amend", "amended", "change",
               "wrong", "incorrect", "inaccurate", "outdated", "out of date", "misspelled", "not accurate",
               "not correct", "not up to date", "no longer correct", "no longer accurate"),
        "fr": ("corriger", "corrigez", "rectifier", "rectifiez", "modifier", "modifiez", "mettre à jour",
               "mettez à jour", "erronées", "erronée", "erronés", "inexactes", "inexacte", "incorrectes", "fausses",
               "plus à jour", "pas à jour", "ne sont plus à jour", "n'est plus à jour", "ne sont pas à jour",
               "n'est pas à jour"),
    },
    "erasure": {
        "nl": ("wis", "wist", "wissen", "gewist", "uitwissen", "verwijder*", "schrap*", "geschrapt", "vernietig*",
               "vergeten worden", "haal", "halen"),
        "en": ("delete*", "erase*", "remove", "removed", "removal", "destroy*", "wipe*", "purge*", "be forgotten"),
        "fr": ("supprim*", "effac*", "détrui*", "destruction", "suppression", "oubliez"),
    },
    "objection": {
        "nl": ("bezwaar", "verzet"),
        "en": ("object", "objection"),
        "fr": ("oppose", "opposition"),
    },
}

# Sending is asking for access only when it is sent to the person ("stuur mij", "send me",
# "me communiquer"): "ik stuur u mijn gegevens" gives them.
SENDS = {
    "nl": ("sturen", "stuur", "opsturen", "toesturen", "doorsturen", "bezorgen", "bezorg", "mailen", "geven", "geef"),
    "en": ("send", "email", "e-mail", "mail", "forward", "give", "provide"),
    "fr": ("envoyer", "envoyez", "transmettre", "transmettez", "communiquer", "communiquez", "fournir"),
}
TO_ME = ("mij", "me", "ons", "us", "moi", "m", "nous")
TO_ME_WITHIN = 3  # words between a verb of sending and "mij", "me"

# A right or an article named for what it is: the kind on its own.
RIGHTS: dict[str, dict[str, tuple[str, ...]]] = {
    "access": {
        "nl": ("recht op inzage", "inzageverzoek", "inzagerecht"),
        "en": ("right of access", "right to access", "subject access request", "dsar"),
        "fr": ("droit d'accès",),
    },
    "correction": {
        "nl": ("recht op verbetering", "recht op rectificatie", "recht op correctie"),
        "en": ("right to rectification",),
        "fr": ("droit de rectification",),
    },
    "erasure": {
        "nl": ("recht op vergetelheid", "recht om vergeten te worden", "recht op gegevenswissing", "recht op wissing",
               "vergeet mij", "vergeet me"),
        "en": ("right to be forgotten", "right to erasure", "forget me", "forget about me"),
        "fr": ("droit à l'oubli", "droit à l'effacement", "oubliez-moi"),
    },
    "objection": {
        "nl": ("recht van bezwaar", "recht op bezwaar", "recht van verzet", "recht op verzet"),
        "en": ("right to object",),
        "fr": ("droit d'opposition",),
    },
}
ARTICLE_WORDS = ("art", "artikel", "article", "artikels", "articles")
ARTICLES = {"15": "access", "16": "correction", "17": "erasure", "21": "objection"}
LAWS = {
    "nl": ("avg", "privacywet", "gegevensbescherming", "wet op de privacy"),
    "en": ("gdpr", "data protection", "privacy law"),
    "fr": ("rgpd", "protection des données", "loi sur la vie privée"),
}

# The person's data: a word for data...
DATA_WORDS = {
    "nl": ("gegevens", "contactgegevens", "adresgegevens", "klantgegevens", "persoonsinformatie", "info", "informatie",
           "data", "dossier", "profiel"),
    "en": ("data", "information", "info", "details", "records", "profile", "file"),
    "fr": ("données", "informations", "infos", "info", "coordonnées", "dossier", "profil"),
}
# ...that is theirs ("mijn", "my", "mes" up to three words before it) ...
POSSESSIVES = ("mijn", "m'n", "mn", "onze", "my", "our", "mes", "mon", "ma", "nos", "notre")
# ...or about them ("gegevens die jullie over mij hebben", "informations me concernant")...
ABOUT_ME = ("over mij", "over me", "van mij", "van me", "rond mij", "about me", "about myself", "on me",
            "concerning me", "regarding me", "relating to me", "related to me", "me concernant", "sur moi",
            "à mon sujet", "à propos de moi")
# ...or personal by its own name.
PERSONAL_DATA = ("persoonsgegevens", "persoonlijke gegevens", "persoonlijke info", "persoonlijke informatie",
                 "personal data", "personal information", "personal details", "personal info", "données personnelles",
                 "informations personnelles", "données à caractère personnel")
# What CETIT is said to keep ("wat jullie over mij bijhouden", "what you have on me").
HOLDING = ("bijhouden", "bijhoudt", "bijgehouden", "bewaren", "bewaart", "bewaard", "hebben", "heeft", "hebt", "heb",
           "weten", "weet", "kennen", "kent", "opslaan", "opgeslagen", "verwerken", "verwerkt", "verzameld",
           "hold", "holds", "have", "has", "keep", "keeps", "kept", "store", "stored", "process", "processed", "know",
           "collected", "retain", "avez", "détenez", "conservez", "savez", "gardez", "traitez", "possédez", "stockez")
EVERYTHING = ("alles", "allemaal", "everything", "tout")
QUESTION_WORDS = {"nl": ("welke", "wat"), "en": ("what", "which"), "fr": ("quelles", "quelle", "quels", "quel")}
# What an objection may be to, besides the person's data.
MARKETING = ("marketing", "direct marketing", "reclame", "publiciteit", "mails", "e-mails", "nieuwsbrief",
             "nieuwsbrieven", "verwerking", "profilering", "newsletter", "newsletters", "emails", "processing",
             "profiling", "advertising", "prospection", "publicité", "traitement", "profilage")

# Other business: an invoice, an order, a meeting, a login. Near the data, it is what the
# sentence is about ("mijn gegevens in de offerte", "my login details").
BUSINESS = ("factuur*", "facturatie*", "facturen", "invoice*", "billing", "bill", "factur*", "bestelling*", "order",
            "orders", "commande*", "levering*", "delivery", "shipping", "livraison*", "offerte*", "quote", "quotation",
            "devis", "meeting", "vergadering*", "afspraak", "afspraken", "appointment*", "réunion*", "betaling*",
            "payment*", "paiement*", "contract*", "contrat*", "overeenkomst*", "ticket*", "reservatie*",
            "reservation*", "réservation*", "booking*", "boeking*", "login", "password", "wachtwoord", "passe",
            "boekhouding", "accounting", "comptabilité", "inschrijving*", "registration*", "inscription*", "event",
            "events", "evenement*", "événement*", "opleiding*", "cursus*", "course", "courses", "training*",
            "formation*", "webinar*")
# What is needed from the person ("welke gegevens hebben jullie van mij nodig"): the whole sentence is.
NEED = ("nodig", "need", "needs", "needed", "require", "required", "besoin", "nécessaires", "nécessaire")
# A list or a newsletter after weak data: "verwijder mijn gegevens uit jullie lijst" is an unsubscribe.
LISTS = ("lijst", "mailinglijst", "verzendlijst", "adressenlijst", "list", "mailing list", "mailinglist", "liste",
         "nieuwsbrief", "newsletter", "lettre d'information")
# Before the verb in its clause, a negation or thanks for what is done: "please do not delete my
# data", "ne supprimez pas", "bedankt om mijn gegevens aan te passen".
NOT_ASKING = ("niet", "geen", "nooit", "not", "never", "no", "t", "ne", "n", "jamais", "aucune", "aucun",
              "bedankt om", "bedankt voor", "dank u om", "dank je om", "dank u voor", "dank je voor", "thanks for",
              "thank you for", "merci d'avoir", "merci pour")
# Where a clause ends, and with it the reach of a negation (not Dutch "want": English "I want").
CLAUSE_ENDS = (",", ";", ":", "dus", "en", "maar", "omdat", "so", "and", "but", "because", "et", "mais", "donc", "car")
# A verb form that is another verb beside these words: "ik wist niet" (knew), "laat me weten" (tell).
OTHER_VERB_BESIDE = {
    "wist": ("ik", "je", "jij", "u", "hij", "zij", "ze", "we", "wij", "men", "niet", "het", "dat", "al"),
    "weten": ("laten", "laat", "me", "mij", "ons"),
    "know": ("me", "us"),
}
# In the sentence after one about the person's data, these stand for it: "Zo ja, gelieve die te
# verwijderen", "Could you correct them?".
PRONOUNS = ("die", "deze", "ze", "them", "it", "those", "these", "les", "celles", "ceux")
# Asking where CETIT got their data or address is asking what it holds (Art. 15(1)(g)).
SOURCE_QUESTIONS = {
    "nl": ("vandaan", "hoe komen jullie aan", "hoe komt u aan", "hoe zijn jullie aan", "hoe bent u aan"),
    "en": ("where did you get", "how did you get", "where do you have", "how do you have"),
    "fr": ("où avez-vous obtenu", "comment avez-vous obtenu", "où avez-vous trouvé", "d'où tenez-vous"),
}
ADDRESS_WORDS = ("adres", "e-mailadres", "mailadres", "emailadres", "address", "e-mail address", "email address",
                 "adresse", "adresse e-mail", "adresse mail", "coordonnées")
