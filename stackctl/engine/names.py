"""Container ids and names: 64-hex ids, Docker-style adjective_surname names,
and lookup of a container by name, full id or unique id prefix.

Pure apart from ``secrets``: the store decides whether a name is taken (the
UNIQUE constraint on ``containers.name`` is the arbiter under concurrency).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Sequence

from stackctl.errors import NotFound, UsageError

TYPE_CHECKING = False  # typing costs ~3 ms at start-up; annotations only
if TYPE_CHECKING:
    from typing import Any

ADJECTIVES = (
    "admiring", "adoring", "affectionate", "agitated", "amazing", "angry", "awesome",
    "beautiful", "blissful", "bold", "boring", "brave", "busy", "charming", "clever",
    "compassionate", "competent", "condescending", "confident", "cool", "cranky", "crazy",
    "dazzling", "determined", "distracted", "dreamy", "eager", "ecstatic", "elastic",
    "elated", "elegant", "eloquent", "epic", "exciting", "fervent", "festive", "flamboyant",
    "focused", "friendly", "frosty", "funny", "gallant", "gifted", "goofy", "gracious",
    "great", "happy", "hardcore", "heuristic", "hopeful", "hungry", "infallible", "inspiring",
    "intelligent", "interesting", "jolly", "jovial", "keen", "kind", "laughing", "loving",
    "lucid", "magical", "modest", "musing", "mystifying", "naughty", "nervous", "nice",
    "nifty", "nostalgic", "objective", "optimistic", "peaceful", "pedantic", "pensive",
    "practical", "priceless", "quirky", "quizzical", "recursing", "relaxed", "reverent",
    "romantic", "sad", "serene", "sharp", "silly", "sleepy", "stoic", "strange", "stupefied",
    "suspicious", "sweet", "tender", "thirsty", "trusting", "unruffled", "upbeat", "vibrant",
    "vigilant", "vigorous", "wizardly", "wonderful", "xenodochial", "youthful", "zealous",
    "zen",
)

SURNAMES = (
    "agnesi", "albattani", "allen", "almeida", "archimedes", "ardinghelli", "aryabhata",
    "austin", "babbage", "banach", "bardeen", "bartik", "bassi", "beaver", "bell", "benz",
    "bhabha", "bhaskara", "blackwell", "bohr", "booth", "borg", "bose", "boyd", "brahmagupta",
    "brattain", "brown", "buck", "burnell", "cannon", "carson", "cartwright", "cerf",
    "chandrasekhar", "chatelet", "chatterjee", "chebyshev", "clarke", "colden", "cori",
    "cray", "curie", "darwin", "davinci", "dewdney", "dhawan", "diffie", "dijkstra", "dirac",
    "driscoll", "dubinsky", "easley", "edison", "einstein", "elion", "elgamal", "engelbart",
    "euclid", "euler", "faraday", "feistel", "fermat", "fermi", "feynman", "franklin",
    "gagarin", "galileo", "galois", "gates", "gauss", "germain", "goldberg", "goldstine",
    "goldwasser", "goodall", "gould", "greider", "grothendieck", "haibt", "hamilton",
    "haslett", "hawking", "hellman", "heisenberg", "hermann", "herschel", "hertz", "heyrovsky",
    "hodgkin", "hofstadter", "hoover", "hopper", "hugle", "hypatia", "jackson", "jang",
    "jennings", "jepsen", "johnson", "joliot", "jones", "kalam", "kapitsa", "kare", "keldysh",
    "keller", "kepler", "khayyam", "khorana", "kilby", "kirch", "knuth", "kowalevski",
    "lalande", "lamarr", "lamport", "leakey", "leavitt", "lederberg", "lehmann", "lewin",
    "lichterman", "liskov", "lovelace", "lumiere", "mahavira", "margulis", "matsumoto",
    "maxwell", "mayer", "mccarthy", "mcclintock", "mclaren", "mclean", "mcnulty", "meitner",
    "mendel", "mendeleev", "merkle", "mestorf", "mirzakhani", "montalcini", "moore", "morse",
    "moser", "murdock", "napier", "nash", "neumann", "newton", "nightingale", "nobel",
    "noether", "northcutt", "noyce", "panini", "pare", "pascal", "pasteur", "payne",
    "perlman", "pike", "poincare", "poitras", "proskuriakova", "ptolemy", "raman",
    "ramanujan", "rhodes", "ride", "ritchie", "robinson", "roentgen", "rosalind", "rubin",
    "saha", "sammet", "sanderson", "satoshi", "shamir", "shannon", "shaw", "shirley",
    "shockley", "shtern", "sinoussi", "snyder", "solomon", "spence", "stonebraker",
    "sutherland", "swanson", "swartz", "swirles", "taussig", "tesla", "tharp", "thompson",
    "torvalds", "tu", "turing", "varahamihira", "vaughan", "villani", "visvesvaraya",
    "volhard", "wescoff", "wilbur", "wiles", "williams", "williamson", "wilson", "wing",
    "wozniak", "wright", "wu", "yalow", "yonath", "zhukovsky",
)

# Docker's rule for user-given names.
NAME_RE = re.compile(r"^/?[a-zA-Z0-9][a-zA-Z0-9_.-]*$")
ID_RE = re.compile(r"^[0-9a-f]{64}$")


def new_id() -> str:
    """A fresh 64-hex container id (256 random bits)."""
    return os.urandom(32).hex()


def _pick(items: Sequence[str]) -> str:
    return items[int.from_bytes(os.urandom(4), "big") % len(items)]


def random_name(attempt: int = 0) -> str:
    """``adjective_surname``; after a collision, a digit is appended like Docker."""
    # os.urandom, not secrets: `secrets` imports hashlib, hmac, base64 and random
    # (~6 ms of every run); the bias of a modulo over 32 bits is immaterial here.
    name = f"{_pick(ADJECTIVES)}_{_pick(SURNAMES)}"
    if attempt:
        name += str(_pick("0123456789"))
    # Docker never generates "boring_wozniak" (Steve Wozniak is not boring).
    if name.startswith("boring_wozniak"):
        return random_name(attempt)
    return name


def validate_name(name: str) -> str:
    """Return the name without a leading '/', or raise UsageError."""
    if len(name) > 253 or not NAME_RE.match(name):
        raise UsageError(
            f"invalid container name {name!r}",
            hint="names match [a-zA-Z0-9][a-zA-Z0-9_.-]*",
        )
    return name.lstrip("/")


def resolve(ref: str, candidates: Iterable[tuple[str, str]], *, what: str = "container") -> str:
    """Pick one id from ``(id, name)`` pairs by exact name, full id or unique id prefix.

    Docker's order: an exact id wins, then an exact name, then a unique prefix.
    """
    ref = ref.lstrip("/")
    pairs = list(candidates)
    for cid, _ in pairs:
        if cid == ref:
            return cid
    for cid, name in pairs:
        if name == ref:
            return cid
    if ref and all(c in "0123456789abcdef" for c in ref):
        matches = [cid for cid, _ in pairs if cid.startswith(ref)]
        if len(matches) == 1:
            return matches[0]
        if len(matches) > 1:
            raise NotFound(
                f"{what} id prefix {ref!r} is ambiguous ({len(matches)} matches)",
                hint="give more characters of the id, or the name",
            )
    raise NotFound(f"no such {what}: {ref}", hint="list them with `stackctl ps -a`"
                   if what == "container" else None)


def lookup(db: Any, ref: str, *, flag: str) -> tuple[str, str]:
    """(id, name) of the container that ``ref`` names, as ``resolve`` picks it, for a
    flag that points at another container (``--ipc container:X``,
    ``--network container:X``); errors name the flag."""
    rows = db.execute("SELECT id, name FROM containers WHERE name = ? OR id = ? OR id LIKE ?",
                      (ref, ref, ref + "%")).fetchall()
    try:
        cid = resolve(ref, [(str(r[0]), str(r[1])) for r in rows])
    except NotFound as exc:
        raise NotFound(f"{flag}: {exc.message}", hint=exc.hint) from None
    return cid, next(str(r[1]) for r in rows if r[0] == cid)


__all__ = ["ID_RE", "NAME_RE", "lookup", "new_id", "random_name", "resolve", "validate_name"]
