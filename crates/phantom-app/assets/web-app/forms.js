// Form helpers: the API's field errors beside the fields, and the page's notice line.

/** Clears the error messages of `form`. */
export function clearErrors(form) {
  for (const slot of form.querySelectorAll('[data-error-for]')) slot.textContent = '';
  for (const field of form.querySelectorAll('[aria-invalid]')) field.removeAttribute('aria-invalid');
}

/** Shows a DRF error body (`{"field": ["message"]}`) beside each field of `form`; what has no
 *  field there goes to the form's `non_field_errors` slot. Focuses the first invalid field. */
export function showErrors(form, body) {
  clearErrors(form);
  const general = form.querySelector('[data-error-for="non_field_errors"]');
  let first = null;
  for (const [name, messages] of Object.entries(body ?? {})) {
    const text = Array.isArray(messages) ? messages.join(' ') : String(messages);
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
