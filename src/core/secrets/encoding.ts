/**
 * How secret characters show up escaped in logs. A secret's alphabet is base64 (+ / =) or base64url (- _);
 * a log may carry those characters raw, percent-encoded (once or twice), JSON-escaped (`\/`, `\u002f`) or
 * escaped again inside another JSON string (`\\/`). The patterns below match one *logical* character in any of
 * those forms, so a match's span covers the text exactly as written (which is what redaction replaces) while
 * `decodeSecretText` recovers the logical value (which is what the hash is computed over, so the same secret
 * seen in two encodings is recognised as one).
 */

/** Escaped forms of `/`, `+` and `=`. */
const ESCAPED_SPECIAL = String.raw`%2[BbFf]|%3[Dd]|%252[BbFf]|%253[Dd]|\\{1,7}\/|\\{1,7}u002[BbFf]|\\{1,7}u003[Dd]`;

/** One base64 character (+ / =) in any escaped form. */
export const B64 = `(?:[A-Za-z0-9+/=]|${ESCAPED_SPECIAL})`;
/** One base64 character without padding. */
export const B64_NOPAD = String.raw`(?:[A-Za-z0-9+/]|%2[BbFf]|%252[BbFf]|\\{1,7}\/|\\{1,7}u002[BbFf])`;
/** One base64url character (JWTs, OAuth tokens): never needs escaping. */
export const B64URL = '[A-Za-z0-9_-]';

/**
 * What may precede a token for it to start at a word boundary, the escapes included: `%22ASIA…` and `\"ASIA…`
 * and `\nASIA…` all start a token even though the character just before it is alphanumeric.
 */
export const START = String.raw`(?<=^|[^A-Za-z0-9]|%[0-9A-Fa-f]{2}|%25[0-9A-Fa-f]{2}|\\u[0-9A-Fa-f]{4}|\\[nrtbf])`;
/** What may follow a token: anything that is not part of the same alphabet. */
export const END_B64 = String.raw`(?![A-Za-z0-9+/]|%2[BbFf]|%252[BbFf]|\\{1,7}\/)`;
export const END_WORD = '(?![A-Za-z0-9])';

/**
 * A quote as it may appear around a key or value: raw, JSON-escaped (any depth), percent-encoded, HTML entity, or
 * hex-escaped the way nginx and Apache write `"` inside a quoted access-log field (`\x22`), doubled inside a CSV field
 * (`""key"": ""value""`), or typographic (a document pasted through a word processor; as Unicode, or as the
 * UTF-8 bytes `redact` reads one character a byte).
 */
export const QUOTE = String.raw`(?:(?:\\{0,7}["'\x60]){1,2}|%22|%27|%2522|%2527|&quot;|&#34;|&#39;|\\x22|\\x27|[\u2018\u2019\u201c\u201d]|\u00e2\u0080[\u0098\u0099\u009c\u009d])?`;
/**
 * A character that shows nothing (zero-width space, joiners, word joiner, soft hyphen, BOM), as Unicode or as its
 * UTF-8 bytes (`redact` reads one character a byte): slipped between a key's name and its separator, it hides nothing.
 */
const INVISIBLE = String.raw`[\u200b-\u200d\u2060\u00ad\ufeff]|\u00e2\u0080[\u008b-\u008d]|\u00e2\u0081\u00a0|\u00c2\u00ad|\u00ef\u00bb\u00bf`;
/**
 * A blank around a separator: space, tab, or a no-break space, as Unicode or as its UTF-8 bytes C2 A0 (which
 * `redact` reads one character a byte, as `\u00c2\u00a0`), or an invisible character.
 */
const BLANK = String.raw`(?:[ \t\u00a0]|\u00c2\u00a0|${INVISIBLE})`;
/**
 * Key/value separator: JSON, YAML, util.inspect, Python repr, query string, header, Ruby hash, Go `:=`, an arrow
 * (`->`), an XML element's `>`, percent-encoded or quoted-printable (`=3D`); blanks (a no-break space too) around it.
 */
export const SEP = `${BLANK}*(?:=>|->|:=|:|=3D|=|>|&gt;|%3[AaDd]|%253[AaDd])${BLANK}*`;
/**
 * Separator after a key name specific enough to need no operator: blanks or a table's bars alone also separate it
 * from its value (`aws configure set aws_secret_access_key VALUE`, `--secret-key VALUE`, `| SecretAccessKey | VALUE`),
 * and so does a CSV row's comma (`AWS_SECRET_ACCESS_KEY,VALUE`), and an SSM parameter's type in the CLI's text output
 * (`/prod/AWS_SECRET_ACCESS_KEY<TAB>SecureString<TAB>VALUE`).
 */
export const NAME_SEP = String.raw`(?:(?:[ \t\u00a0|]|\u00c2\u00a0|${INVISIBLE})*(?:=>|->|:=|:|=3D|=|>|&gt;|%3[AaDd]|%253[AaDd])${BLANK}*|(?:[ \t\u00a0|]|\u00c2\u00a0)+|${BLANK}*,${BLANK}*|${BLANK}+(?:SecureString|StringList|String)${BLANK}+)`;
/**
 * The start of an escaped character cut by a line's end (`%`, `%2`, `%25`, `\`, `\u00`, `\u002`): its rest opens the
 * next line.
 */
export const PARTIAL_ESCAPE = String.raw`(?:%(?:2(?:5(?:2)?)?|3|253)?|\\{1,7}(?:u(?:0(?:0(?:[23])?)?)?)?)`;
/** What may open a value after its key besides a quote: a bracket (`secret=[VALUE]`, `Secret(VALUE)`). */
export const VALUE_OPEN = String.raw`(?:${QUOTE}|[\[(])`;

const ESCAPE_RE = /%25(?=[0-9A-Fa-f]{2})|%2[BbFf]|%3[Dd]|\\+u00(?:2[BbFf]|3[Dd])|\\+\//g;

/** Undo the escapes above, repeatedly (for doubly encoded text), to get a secret's logical value. */
export function decodeSecretText(text: string): string {
  let s = text;
  for (let i = 0; i < 4; i++) {
    const next = s.replace(ESCAPE_RE, (m) => {
      const low = m.toLowerCase();
      if (low === '%25') return '%';
      if (low === '%2b' || low.endsWith('u002b')) return '+';
      if (low === '%2f' || low.endsWith('u002f') || low.endsWith('/')) return '/';
      return '=';
    });
    if (next === s) return s;
    s = next;
  }
  return s;
}
