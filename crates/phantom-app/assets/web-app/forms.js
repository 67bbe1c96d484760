// Form helpers: the API's field errors beside the fields, and the page's notice line.

/** Clears the error messages of `form`. */
export function clearErrors(form) {
  for (const slot of form.querySelectorAll('[data-error-for]')) slot.textContent = '';
  for (const field of form.querySelectorAll('[aria-invalid]')) field.removeAttribute('aria-invalid');
}

/** The name a person knows the field `name` of `form` by: its label, without the hint in
 *  brackets ("Priority (1–10, …)" is "Priority"); '' when it has none. */
function labelOf(form, name) {
  const field = form.elements.namedItem(name);
  const label = field instanceof HTMLElement ? field.labels?.[0]?.textContent ?? '' : '';
  return label.replace(/\s*\(.*\)\s*$/, '').trim();
}

/** The API's message about the field `name`, in the words of the form: the field named as its
 *  label says, and what to do instead of how the API parses. */
export function inWords(form, name, message) {
  const label = labelOf(form, name);
  if (label) {
    const rules = [
      [/^Datetime has wrong format/, () => `${label} needs a date and time.`],
      [/^This field is required\.$|^This field may not be blank\.$/, () => `${label} cannot be empty.`],
      [/^Invalid pk ".*" - object does not exist\.$/, () => `Choose a ${label.toLowerCase()} from the list.`],
      [/^Ensure this field has no more than (\d+) characters\.$/, (n) => `${label} can be at most ${n} characters long.`],
      [/^Ensure this value is between (.+) and (.+?)\.?$/, (a, b) => `${label} must be between ${a} and ${b}.`],
      [/^Ensure this value is greater than or equal to (.+)\.$/, (n) => `${label} must be at least ${n}.`],
      [/^A valid integer is required\.$/, () => `${label} must be a whole number.`],
    ];
    for (const [pattern, words] of rules) {
      const match = pattern.exec(message);
      if (match) return words(...match.slice(1));
    }
  }
  // Other fields the message names (`end_time must be after start_time.`), as labelled.
  return message.replace(/\b[a-z]+(?:_[a-z]+)+\b/g, (other) => labelOf(form, other) || other);
}

/** Shows a DRF error body (`{"field": ["message"]}`) beside each field of `form`; what has no
 *  field there goes to the form's `non_field_errors` slot. Focuses the first invalid field. */
export function showErrors(form, body) {
  clearErrors(form);
  const general = form.querySelector('[data-error-for="non_field_errors"]');
  let first = null;
  for (const [name, messages] of Object.entries(body ?? {})) {
    const text = (Array.isArray(messages) ? messages : [messages]).map((m) => inWords(form, name, String(m))).join(' ');
    const slot = form.querySelector(`[data-error-for="${CSS.escape(name)}"]`) ?? general;
    slot.textContent = slot.textContent ? `${slot.textContent} ${text}` : text;
    const field = form.elements.namedItem(name);
    if (field instanceof HTMLElement && slot !== general) {
      slot.id ||= `${form.id}-${name}-error`;
      field.setAttribute('aria-invalid', 'true');
      field.setAttribute('aria-describedby', slot.id);
      first ??= field;
    }
  }
  first?.focus();
}

/** One line of news for the user (announced politely to screen readers). */
export function notify(text, kind = 'info') {
  const notice = document.getElementById('notice');
  notice.textContent = text;
  notice.dataset.kind = kind;
}
