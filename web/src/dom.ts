/** A tiny element factory: no framework, just typed DOM calls. */

type Listener = (event: Event) => void;
/** Attribute values: `false`/`null`/`undefined` omit the attribute; `on*` keys add listeners. */
export type Attrs = Record<string, string | number | boolean | null | undefined | Listener>;
export type Child = Node | string | number | null | undefined | false;

/**
 * Creates an element. `h('button', { type: 'button', onclick: fn }, 'Send')`.
 * `class` sets className; boolean `true` sets an empty attribute.
 */
export function h<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Attrs = {}, ...children: Child[]): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (typeof value === 'function') {
      el.addEventListener(key.replace(/^on/, ''), value);
    } else if (value === true) {
      el.setAttribute(key, '');
    } else if (value !== false && value !== null && value !== undefined) {
      el.setAttribute(key, String(value));
    }
  }
  append(el, ...children);
  return el;
}

/** Appends children, skipping empty ones; strings become text nodes (never HTML). */
export function append(parent: Node, ...children: Child[]): void {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    parent.appendChild(typeof child === 'string' || typeof child === 'number' ? document.createTextNode(String(child)) : child);
  }
}

/** Replaces all children. */
export function replace(parent: Element, ...children: Child[]): void {
  parent.replaceChildren();
  append(parent, ...children);
}

let idCounter = 0;
/** A document-unique id for `<label for>` pairs. */
export function uid(prefix: string): string {
  idCounter += 1;
  return `${prefix}-${idCounter}`;
}

/** A labelled text input: `<label for>` + `<input id>`, wrapped in a div. */
export function field(
  label: string,
  attrs: Attrs,
  hint?: string,
): { wrapper: HTMLDivElement; input: HTMLInputElement } {
  const id = uid('f');
  const hintId = hint === undefined ? undefined : `${id}-hint`;
  const input = h('input', { id, ...attrs, 'aria-describedby': hintId });
  const wrapper = h(
    'div',
    { class: 'field' },
    h('label', { for: id }, label),
    input,
    hint === undefined ? null : h('small', { id: hintId, class: 'hint' }, hint),
  );
  return { wrapper, input };
}
