/**
 * HTML that is safe to send as it is: only the `html` tag below and `trustedHtml` make one, so a
 * value that did not go through escaping cannot reach a page by accident.
 */
export class SafeHtml {
  readonly value: string;

  constructor(value: string) {
    this.value = value;
  }

  toString(): string {
    return this.value;
  }
}

const ESCAPES: Record<string, string> = {
  "&": "&amp;",
  "<": "&lt;",
  ">": "&gt;",
  '"': "&quot;",
  "'": "&#39;",
  "`": "&#96;",
};

/** Escapes text for an element's content or a quoted attribute value. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"'`]/g, (c) => ESCAPES[c]!);
}

function render(value: unknown): string {
  if (value instanceof SafeHtml) return value.value;
  if (value === undefined || value === null || value === false) return "";
  if (Array.isArray(value)) return value.map(render).join("");
  if (value instanceof Date) return escapeHtml(value.toISOString());
  return escapeHtml(String(value));
}

/**
 * The one way the dashboard writes HTML: every interpolation is escaped (event ids, project ids,
 * error texts come from callers and from Svix) unless it is itself SafeHtml; arrays are joined;
 * null, undefined and false render nothing. Attribute values must be written in double quotes.
 */
export function html(strings: TemplateStringsArray, ...values: unknown[]): SafeHtml {
  let out = strings[0]!;
  for (let i = 0; i < values.length; i += 1) out += render(values[i]) + strings[i + 1]!;
  return new SafeHtml(out);
}

/** For constant markup written in this code (the style sheet), never for data. */
export function trustedHtml(constant: string): SafeHtml {
  return new SafeHtml(constant);
}
