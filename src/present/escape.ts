/**
 * Escaping for every sink Plumbum prints to. Names and TXT strings come from
 * the wire and are attacker-chosen: they may hold control characters, ANSI
 * escapes, quotes, newlines or bytes that are not UTF-8.
 *
 * @module
 */

/**
 * Make a byte string safe for a terminal: printable ASCII stays, every other
 * byte (controls, DEL, 0x80–0xFF) becomes `\xHH`.
 *
 * @example
 * ```ts
 * escapeTerminal("evil\x1b[31m.tk"); // "evil\\x1b[31m.tk"
 * ```
 */
export function escapeTerminal(s: string): string {
  if (!/[^\x20-\x7e]/.test(s)) return s;
  return s.replace(/[^\x20-\x7e]/g, hexEscape);
}

/** One character as `\xHH` (or `\u{…}` above 0xFF). */
function hexEscape(c: string): string {
  const code = c.charCodeAt(0);
  return code <= 0xff ? "\\x" + code.toString(16).padStart(2, "0") : "\\u{" + code.toString(16) + "}";
}

/**
 * Text for JSON, CSV and YAML outputs: a byte string shown as text. Valid
 * UTF-8 sequences are decoded; anything else is escaped as `\xHH` so the
 * output is always well-formed Unicode, and control characters are escaped
 * too.
 */
export function displayText(s: string): string {
  if (!/[^\x20-\x7e]/.test(s)) return s;
  const bytes = Uint8Array.from(s, (c) => c.charCodeAt(0) & 0xff);
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    return escapeTerminal(s);
  }
  // Keep printable Unicode, escape C0/C1 controls, DEL and bidi overrides.
  return text.replace(/[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]/g, hexEscape);
}

/** CSV cells that a spreadsheet would run as a formula get a leading quote. */
export function neutralizeFormula(cell: string): string {
  return /^[=+\-@\t\r]/.test(cell) ? "'" + cell : cell;
}

/**
 * The byte string a user means when they type a name as Plumbum displayed
 * it: text is taken as UTF-8 and `\xHH` escapes become their bytes.
 *
 * @example
 * ```ts
 * fromDisplayText("\\x1b]0;pwn\\x07.test"); // "\x1b]0;pwn\x07.test"
 * ```
 */
export function fromDisplayText(s: string): string {
  let bytes = s;
  if (/[^\x00-\x7f]/.test(s)) {
    const b = new TextEncoder().encode(s);
    bytes = String.fromCharCode(...b);
  }
  return bytes.replace(/\\x([0-9a-fA-F]{2})/g, (_m, h) => String.fromCharCode(parseInt(h, 16)));
}
