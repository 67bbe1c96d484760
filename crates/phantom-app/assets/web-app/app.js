// Phantom's web app: sign in or register, then the calendar, the Google header and the
// settings, refreshed every few seconds while the page is visible.
import { api, publicApi, isSignedIn, onSignedOut, reloadTokens, signIn, signOut, ApiError } from './api.js';
import { CalendarView } from './calendar.js';
import { GoogleHeader } from './google.js';
import { clearErrors, notify, showErrors } from './forms.js';

const $ = (id) => document.getElementById(id);
const REFRESH_EVERY = 4000;

let view = null;
let google = null;
let timer = null;
const settings = { timezone: 'UTC', defaultDuration: 60, categories: [], filter: '', google: null };

/** The sign-in page, with nothing of the last user left on screen or in the DOM. */
function showAuth() {
  clearInterval(timer);
  view?.destroy();
  view = null;
  for (const dialog of document.querySelectorAll('dialog')) dialog.close();
  $('event-form').reset();
  $('event-dialog-title').textContent = 'Event';
  $('event-sync').textContent = '';
  for (const form of document.forms) clearErrors(form);
  settings.categories = [];
  settings.filter = '';
  settings.google = null;
  google?.forget();
  $('category-filter').replaceChildren(new Option('All categories', ''));
  $('event-category').replaceChildren();
  $('category-list').replaceChildren();
  for (const id of ['google-state', 'google-counts', 'google-error']) $(id).textContent = '';
  $('app').hidden = true;
  $('google').hidden = true;
  $('sign-out').hidden = true;
  $('who').textContent = '';
  $('auth').hidden = false;
  $('sign-in-username').focus();
}

async function showApp() {
  $('auth').hidden = true;
  $('sign-out').hidden = false;
  $('app').hidden = false;
  await loadSettings();
  view = new CalendarView($('calendar'), settings, loadCategories);
  google ??= new GoogleHeader((state) => {
    // Sync badges show only while connected.
    settings.google = state;
    view?.refresh();
  });
  await google.refresh();
  timer = setInterval(tick, REFRESH_EVERY);
}

async function loadSettings() {
  const [preferences, categories] = await Promise.all([
    api('GET', '/api/preferences/'),
    api('GET', '/api/categories/'),
  ]);
  settings.timezone = preferences.timezone;
  settings.defaultDuration = preferences.default_event_duration;
  $('who').textContent = `Times in ${settings.timezone}`;
  showCategories(categories);
}

/** The categories again (one may have been made elsewhere, e.g. by Google's import). */
async function loadCategories() {
  showCategories(await api('GET', '/api/categories/'));
}

function showCategories(categories) {
  settings.categories = categories;
  // A deleted category can no longer be the filter.
  if (!categories.some((c) => String(c.id) === settings.filter)) settings.filter = '';
  const filter = $('category-filter');
  filter.replaceChildren(new Option('All categories', ''), ...categories.map((c) => new Option(c.name, c.id)));
  filter.value = settings.filter;
}

async function tick() {
  if (document.hidden || !view) return;
  try {
    view.refresh();
    await google.refresh();
  } catch (e) {
    if (!(e instanceof ApiError && e.status === 401)) notify(`Could not refresh: ${e.message}`, 'error');
  }
}

function formValues(form) {
  return Object.fromEntries(new FormData(form));
}

/** Into the app as `username`, with nothing left of the sign-in and register forms. */
async function enter(username, news) {
  for (const form of [$('sign-in-form'), $('register-form')]) {
    clearErrors(form);
    form.reset();
  }
  $('register-timezone').value = browserZone();
  notify(news);
  await showApp();
}

$('sign-in-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  const form = e.currentTarget;
  const { username, password } = formValues(form);
  notify('');
  try {
    await signIn(username, password);
    await enter(username, `Signed in as ${username}.`);
  } catch (err) {
    if (err instanceof ApiError && err.status === 400) {
      showErrors(form, err.body);
      return;
    }
    showErrors(form, { non_field_errors: [err instanceof ApiError && err.status === 401 ? 'Wrong username or password.' : err.message] });
    // Ready for another try: the password again, where the person types it.
    form.elements.password.value = '';
    form.elements.password.focus();
  }
});

$('register-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  const form = e.currentTarget;
  const values = formValues(form);
  if (!values.email) delete values.email;
  notify('');
  try {
    await publicApi('POST', '/api/auth/register/', values);
    // Registered: signed in at once, as the person expects.
    await signIn(values.username, values.password);
    await enter(values.username, `Welcome, ${values.username}: you are registered and signed in.`);
  } catch (err) {
    showErrors(form, err instanceof ApiError && err.status === 400 ? err.body : { non_field_errors: [err.message] });
  }
});

$('sign-out').addEventListener('click', async () => {
  await signOut();
  notify('Signed out.');
  showAuth();
});

// Creating without a mouse: a time on the days looked at, for the default duration.
$('new-event').addEventListener('click', () => {
  const start = view?.proposedStart();
  view?.form.create(start, new Date(start.getTime() + settings.defaultDuration * 60_000));
});

$('go-to-date').addEventListener('change', (e) => view?.goTo(e.currentTarget.value));

$('category-filter').addEventListener('change', (e) => {
  settings.filter = e.currentTarget.value;
  view?.refresh();
});

// Categories and preferences.
/** The seeded categories every user shares (API.md): nobody may change or delete them, and no
 *  user's own category may take their names, so the name tells them apart. */
const SHARED_DEFAULTS = new Set(['Exam', 'Study', 'Gym', 'Social', 'Gaming']);
const settingsDialog = $('settings-dialog');
const categoryForm = $('category-form');
function listCategories() {
  $('category-list').replaceChildren(...settings.categories.map((c) => {
    const item = document.createElement('li');
    item.dataset.category = c.id;
    const swatch = document.createElement('span');
    swatch.className = 'swatch';
    swatch.style.backgroundColor = c.color;
    const name = document.createElement('span');
    name.textContent = `${c.name} (priority ${c.priority_level})`;
    if (SHARED_DEFAULTS.has(c.name)) {
      const tag = document.createElement('span');
      tag.className = 'tag';
      tag.textContent = 'shared default';
      item.append(swatch, name, ' ', tag);
      return item;
    }
    const edit = document.createElement('button');
    edit.type = 'button';
    edit.className = 'category-edit';
    edit.textContent = 'Edit';
    edit.setAttribute('aria-label', `Edit ${c.name}`);
    edit.addEventListener('click', () => editCategory(c));
    const remove = document.createElement('button');
    remove.type = 'button';
    remove.className = 'category-delete danger';
    remove.textContent = 'Delete';
    remove.setAttribute('aria-label', `Delete ${c.name}`);
    remove.addEventListener('click', () => deleteCategory(c));
    item.append(swatch, name, ' ', edit, ' ', remove);
    return item;
  }));
}
/** The form edits `category` (or adds a new one when `null`). */
function editCategory(category) {
  clearErrors(categoryForm);
  const editing = category !== null;
  if (editing) {
    categoryForm.dataset.editing = category.id;
    $('category-name').value = category.name;
    $('category-priority').value = category.priority_level;
    $('category-color').value = category.color.toLowerCase();
    $('category-description').value = category.description;
  } else {
    delete categoryForm.dataset.editing;
    categoryForm.reset();
  }
  $('category-name-label').textContent = editing ? `Name of "${category.name}"` : 'New category name';
  $('category-submit').textContent = editing ? 'Save category' : 'Add category';
  $('category-cancel-edit').hidden = !editing;
  if (editing) $('category-name').focus();
}
/** After a category changed: the list, the filter, the event form's choices and the calendar. */
async function categoriesChanged() {
  await loadSettings();
  listCategories();
  view?.refresh();
}
async function deleteCategory(category) {
  try {
    await api('DELETE', `/api/categories/${category.id}/`);
    if (categoryForm.dataset.editing === String(category.id)) editCategory(null);
    clearErrors(categoryForm);
    notify(`Deleted the category ${category.name}.`);
    await categoriesChanged();
    $('category-name').focus();
  } catch (err) {
    // Refused (in use, the import category, a shared default): the API says why.
    const body = err instanceof ApiError && err.body?.detail ? err.body : { detail: err.message };
    showErrors(categoryForm, body);
    notify(body.detail, 'error');
  }
}
$('category-cancel-edit').addEventListener('click', () => {
  editCategory(null);
  $('category-name').focus();
});
$('open-settings').addEventListener('click', () => {
  $('pref-timezone').value = settings.timezone;
  $('pref-duration').value = settings.defaultDuration;
  editCategory(null);
  listCategories();
  settingsDialog.showModal();
});
$('settings-close').addEventListener('click', () => settingsDialog.close());
$('preferences-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  const form = e.currentTarget;
  const values = formValues(form);
  try {
    await api('PUT', '/api/preferences/', {
      timezone: values.timezone,
      default_event_duration: Number(values.default_event_duration),
    });
    clearErrors(form);
    settingsDialog.close();
    notify('Preferences saved.');
    view?.destroy();
    await loadSettings();
    view = new CalendarView($('calendar'), settings, loadCategories);
  } catch (err) {
    showErrors(form, err instanceof ApiError && err.status === 400 ? err.body : { non_field_errors: [err.message] });
  }
});
categoryForm.addEventListener('submit', async (e) => {
  e.preventDefault();
  const form = e.currentTarget;
  const values = formValues(form);
  const category = { ...values, priority_level: Number(values.priority_level) };
  const editing = form.dataset.editing;
  try {
    if (editing) {
      await api('PATCH', `/api/categories/${editing}/`, category);
      notify(`Saved the category ${category.name}.`);
    } else {
      await api('POST', '/api/categories/', category);
    }
    editCategory(null);
    await categoriesChanged();
  } catch (err) {
    // Field errors beside the fields; a refusal (`detail`, e.g. a shared default) above them.
    const known = err instanceof ApiError && [400, 403, 404].includes(err.status);
    showErrors(form, known ? err.body : { non_field_errors: [err.message] });
  }
});

onSignedOut((reason) => {
  notify(reason, 'error');
  showAuth();
});

// Back and Forward may bring this page back from the browser's cache as it was left, with a
// user's calendar on it; if that session has ended since (signed out in a later page of this
// tab), nothing of it may show.
window.addEventListener('pageshow', (e) => {
  if (!e.persisted) return;
  reloadTokens();
  if (!isSignedIn() && view) {
    notify('Signed out.');
    showAuth();
  }
});

// Back from Google's consent screen: say how it went, then drop the query from the address.
const params = new URLSearchParams(window.location.search);
if (params.get('google') === 'connected') notify('Google Calendar connected.');
else if (params.get('google') === 'error') notify(`Google Calendar was not connected: ${params.get('reason') ?? 'unknown error'}`, 'error');
if (params.has('google')) window.history.replaceState(null, '', '/');

function browserZone() {
  return Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC';
}
$('register-timezone').value = browserZone();
if (isSignedIn()) showApp().catch((e) => notify(e.message, 'error'));
else showAuth();
