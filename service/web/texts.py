"""The words of the recipient's pages in Dutch (default), English and French."""

from __future__ import annotations

LANGUAGES = ("nl", "en", "fr")
DEFAULT_LANGUAGE = "nl"

SCOPE_NAMES = {
    "nl": {"global": "alle marketingmails van CETIT", "newsletter": "de nieuwsbrief", "events": "uitnodigingen voor evenementen"},
    "en": {"global": "all marketing mail from CETIT", "newsletter": "the newsletter", "events": "event invitations"},
    "fr": {"global": "tous les e-mails marketing de CETIT", "newsletter": "la newsletter", "events": "les invitations aux événements"},
}

TEXTS = {
    "nl": {
        "title": "Uitschrijven",
        "intro": "Wilt u geen mails meer ontvangen op {address}?",
        "choose": "Waarvoor wilt u zich uitschrijven?",
        "only_scope": "Alleen voor {scope}",
        "all_scopes": "Voor alle marketingmails van CETIT",
        "button": "Uitschrijven",
        "after": "Uw uitschrijving gaat meteen in. Een mail die al onderweg was, kan nog aankomen.",
        "done_title": "U bent uitgeschreven",
        "done": "{address} is uitgeschreven voor {scope}.",
        "done_next": "U hoeft niets meer te doen. Was het een vergissing? Dan kunt u het hieronder ongedaan maken.",
        "undo": "Toch weer inschrijven",
        "resubscribed_title": "U bent opnieuw ingeschreven",
        "resubscribed": "{address} is opnieuw ingeschreven voor {scope_name}.",
        "bad_link_title": "Deze link werkt niet",
        "bad_link": "De link is beschadigd of onvolledig. Kopieer de volledige link uit de mail, of stuur een mail met \"uitschrijven\" naar {mailto}.",
        "too_old_title": "Deze link is te oud",
        "too_old": "Met deze link kunt u zich niet meer opnieuw inschrijven. Uw uitschrijving blijft gelden. Stuur een mail naar {mailto} als u toch weer mails wilt ontvangen.",
        "cannot_undo_title": "Dit kan niet ongedaan gemaakt worden",
        "cannot_undo": "Dit adres werd om een andere reden geblokkeerd. Stuur een mail naar {mailto} als u weer mails wilt ontvangen.",
        "erased_title": "Dit adres werd gewist",
        "erased": "Op verzoek werd alles gewist wat CETIT over dit adres bijhield. Het blijft uitgeschreven voor alle mails van CETIT. Stuur een mail naar {mailto} als u toch weer mails wilt ontvangen.",
        "this_address": "Dit adres",
        "unavailable_title": "Even geduld",
        "unavailable": "We konden uw keuze nu niet opslaan en er is niets veranderd. Probeer het over enkele minuten opnieuw, of stuur een mail met \"uitschrijven\" naar {mailto}.",
        "not_done_title": "Er is niets veranderd",
        "not_done": "Gebruik de knop hieronder om u uit te schrijven.",
        "problem": "Er is niets veranderd. Open de volledige link uit de mail opnieuw, of stuur een mail met \"uitschrijven\" naar {mailto}.",
        "privacy": "CETIT bewaart uw adres alleen om u geen mails meer te sturen.",
        "language": "Taal",
    },
    "en": {
        "title": "Unsubscribe",
        "intro": "Do you want to stop receiving mail at {address}?",
        "choose": "What do you want to unsubscribe from?",
        "only_scope": "Only {scope}",
        "all_scopes": "All marketing mail from CETIT",
        "button": "Unsubscribe",
        "after": "Your unsubscribe takes effect at once. A mail that was already on its way may still arrive.",
        "done_title": "You are unsubscribed",
        "done": "{address} is unsubscribed from {scope}.",
        "done_next": "There is nothing more to do. Was it a mistake? You can undo it below.",
        "undo": "Subscribe again",
        "resubscribed_title": "You are subscribed again",
        "resubscribed": "{address} is subscribed to {scope_name} again.",
        "bad_link_title": "This link does not work",
        "bad_link": "The link is damaged or incomplete. Copy the whole link from the mail, or send a mail saying \"unsubscribe\" to {mailto}.",
        "too_old_title": "This link is too old",
        "too_old": "This link can no longer subscribe you again. Your unsubscribe still stands. Mail {mailto} if you want to receive mail again.",
        "cannot_undo_title": "This cannot be undone here",
        "cannot_undo": "This address was blocked for another reason. Mail {mailto} if you want to receive mail again.",
        "erased_title": "This address was erased",
        "erased": "On request, everything CETIT held about this address was erased. It stays unsubscribed from all CETIT mail. Mail {mailto} if you want to receive mail again.",
        "this_address": "This address",
        "unavailable_title": "Please try again shortly",
        "unavailable": "We could not save your choice just now and nothing has changed. Please try again in a few minutes, or send a mail saying \"unsubscribe\" to {mailto}.",
        "not_done_title": "Nothing has changed",
        "not_done": "Use the button below to unsubscribe.",
        "problem": "Nothing has changed. Open the whole link from the mail again, or send a mail saying \"unsubscribe\" to {mailto}.",
        "privacy": "CETIT keeps your address only to stop mailing you.",
        "language": "Language",
    },
    "fr": {
        "title": "Se désinscrire",
        "intro": "Vous ne souhaitez plus recevoir d'e-mails à l'adresse {address} ?",
        "choose": "De quoi voulez-vous vous désinscrire ?",
        "only_scope": "Seulement {scope}",
        "all_scopes": "Tous les e-mails marketing de CETIT",
        "button": "Se désinscrire",
        "after": "Votre désinscription prend effet immédiatement. Un e-mail déjà en route peut encore arriver.",
        "done_title": "Vous êtes désinscrit",
        "done": "{address} est désinscrit : vous ne recevrez plus {scope}.",
        "done_next": "Vous n'avez plus rien à faire. Une erreur ? Vous pouvez l'annuler ci-dessous.",
        "undo": "Me réinscrire",
        "resubscribed_title": "Vous êtes réinscrit",
        "resubscribed": "{address} recevra de nouveau {scope_name}.",
        "bad_link_title": "Ce lien ne fonctionne pas",
        "bad_link": "Le lien est endommagé ou incomplet. Copiez le lien complet depuis l'e-mail, ou envoyez un e-mail « désinscrire » à {mailto}.",
        "too_old_title": "Ce lien est trop ancien",
        "too_old": "Ce lien ne permet plus de vous réinscrire. Votre désinscription reste valable. Écrivez à {mailto} pour recevoir de nouveau nos e-mails.",
        "cannot_undo_title": "Impossible d'annuler ici",
        "cannot_undo": "Cette adresse a été bloquée pour une autre raison. Écrivez à {mailto} pour recevoir de nouveau nos e-mails.",
        "erased_title": "Cette adresse a été effacée",
        "erased": "À la demande, tout ce que CETIT conservait sur cette adresse a été effacé. Elle reste désinscrite de tous les e-mails de CETIT. Écrivez à {mailto} pour recevoir de nouveau nos e-mails.",
        "this_address": "Cette adresse",
        "unavailable_title": "Veuillez réessayer",
        "unavailable": "Nous n'avons pas pu enregistrer votre choix et rien n'a changé. Réessayez dans quelques minutes, ou envoyez un e-mail « désinscrire » à {mailto}.",
        "not_done_title": "Rien n'a changé",
        "not_done": "Utilisez le bouton ci-dessous pour vous désinscrire.",
        "problem": "Rien n'a changé. Ouvrez à nouveau le lien complet depuis l'e-mail, ou envoyez un e-mail « désinscrire » à {mailto}.",
        "privacy": "CETIT conserve votre adresse uniquement pour ne plus vous écrire.",
        "language": "Langue",
    },
}


def scope_name(lang: str, scope: str) -> str:
    return SCOPE_NAMES[lang].get(scope, f"“{scope}”")


def choose_language(query_lang: str | None, accept_language: str | None) -> str:
    """?lang= first, then the best of Accept-Language by q-value, else Dutch."""
    if query_lang in LANGUAGES:
        return query_lang
    best, best_q = DEFAULT_LANGUAGE, 0.0
    for position, part in enumerate((accept_language or "").split(",")):
        tag, _, params = part.strip().partition(";")
        primary = tag.strip().lower().split("-")[0]
        if primary not in LANGUAGES:
            continue
        q = 1.0
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            if name == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        q -= position * 1e-6  # earlier wins among equals
        if q > best_q:
            best, best_q = primary, q
    return best
