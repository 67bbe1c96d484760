// The week and month views (FullCalendar) in the user's timezone, and the event form.
import { api, ApiError, describe } from './api.js';
import { showErrors, clearErrors, notify } from './forms.js';

/** Wall-clock fields of `ms` in `zone`: [year, month0, day, hour, minute, second, ms]. */
function wallClock(ms, zone) {
  const parts = new Intl.DateTimeFormat('en-US', {
    timeZone: zone, hourCycle: 'h23', year: 'numeric', month: 'numeric', day: 'numeric',
    hour: 'numeric', minute: 'numeric', second: 'numeric',
  }).formatToParts(new Date(ms));
  const get = (type) => Number(parts.find((p) => p.type === type).value);
  return [get('year'), get('month') - 1, get('day'), get('hour'), get('minute'), get('second'), ms % 1000];
}

/** Minutes `zone` is ahead of UTC at the wall-clock time `fields`. */
function offsetOf(fields, zone) {
  const guess = Date.UTC(...fields);
  const at = (ms) => (Date.UTC(...wallClock(ms, zone)) - ms) / 60000;
  return at(guess - at(guess) * 60000);
}

/** FullCalendar's named-timezone hook, over the browser's own timezone data (Intl). */
class IntlZone {
  constructor(name) { this.timeZoneName = name; }
  offsetForArray(fields) { return offsetOf(fields, this.timeZoneName); }
  timestampToArray(ms) { return wallClock(ms, this.timeZoneName); }
}
const zonePlugin = FullCalendar.createPlugin({ name: 'phantom-intl-zone', namedTimeZonedImpl: IntlZone });

const pad = (n) => String(n).padStart(2, '0');
/** `2026-11-24T09:00` in `zone`, for a datetime-local input. */
export function toInput(date, zone) {
  const [y, m, d, h, min] = wallClock(date.getTime(), zone);
  return `${y}-${pad(m + 1)}-${pad(d)}T${pad(h)}:${pad(min)}`;
}
/** The instant a datetime-local value names in `zone`, RFC 3339 UTC; '' when empty. */
export function fromInput(value, zone) {
  const match = /^(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d)/.exec(value);
  if (!match) return '';
  const fields = [+match[1], +match[2] - 1, +match[3], +match[4], +match[5], 0, 0];
  return new Date(Date.UTC(...fields) - offsetOf(fields, zone) * 60000).toISOString();
}

/** The date `ymd` (`YYYY-MM-DD`) moved by `days` days. */
export function addDays(ymd, days) {
  const [y, m, d] = ymd.split('-').map(Number);
  return new Date(Date.UTC(y, m - 1, d + days)).toISOString().slice(0, 10);
}
/** The datetime-local value `value` moved by `minutes` on the wall clock; '' when unreadable. */
export function addMinutes(value, minutes) {
  const at = Date.parse(`${value}:00Z`);
  return Number.isNaN(at) ? '' : new Date(at + minutes * 60000).toISOString().slice(0, 16);
}
/** The local day (`YYYY-MM-DD`) of the instant `iso` in `zone`. */
const dayOf = (iso, zone) => toInput(new Date(iso), zone).slice(0, 10);

/** 12 or 24 hours, as the browser's language writes times. */
const HOUR12 = ['h11', 'h12'].includes(new Intl.DateTimeFormat(navigator.language, { hour: 'numeric' }).resolvedOptions().hourCycle);
/** One way to write a time everywhere (events, the hours on the axis): "6:30pm" or "18:30". */
const TIME_FORMAT = HOUR12
  ? { hour: 'numeric', minute: '2-digit', hour12: true, meridiem: 'short' }
  : { hour: '2-digit', minute: '2-digit', hourCycle: 'h23', meridiem: false };

/** The days of the week as RRULE writes them, in `getUTCDay()` order. */
const DAY_CODES = ['SU', 'MO', 'TU', 'WE', 'TH', 'FR', 'SA'];
/** The order a weekly rule lists its days in (the week starts on Monday). */
const RULE_ORDER = ['MO', 'TU', 'WE', 'TH', 'FR', 'SA', 'SU'];
const WEEKDAYS = 'MO,TU,WE,TH,FR';
const SIMPLE_RULES = {
  daily: 'RRULE:FREQ=DAILY', monthly: 'RRULE:FREQ=MONTHLY', yearly: 'RRULE:FREQ=YEARLY',
  weekdays: `RRULE:FREQ=WEEKLY;BYDAY=${WEEKDAYS}`,
};

/** The "Repeat" choice of a series' `recurrence` lines: `{choice, days, rule}`; `custom` for a
 *  rule the choices cannot say (an interval, a count, an end…), which is shown as it is. */
export function repeatOf(recurrence) {
  const rule = (recurrence ?? []).find((line) => /^RRULE:/i.test(line));
  if (!rule) return { choice: 'none', days: [], rule: null };
  const parts = Object.fromEntries(rule.slice(6).split(';').map((p) => {
    const [key, value = ''] = p.split('=');
    return [key.toUpperCase(), value.toUpperCase()];
  }));
  const keys = Object.keys(parts).sort().join(',');
  const simple = Object.entries(SIMPLE_RULES).find(([, line]) => line === `RRULE:FREQ=${parts.FREQ}` && keys === 'FREQ');
  if (simple) return { choice: simple[0], days: [], rule };
  if (parts.FREQ === 'WEEKLY' && keys === 'FREQ') return { choice: 'weekly', days: [], rule };
  if (parts.FREQ === 'WEEKLY' && keys === 'BYDAY,FREQ' && /^(MO|TU|WE|TH|FR|SA|SU)(,(MO|TU|WE|TH|FR|SA|SU))*$/.test(parts.BYDAY)) {
    const days = RULE_ORDER.filter((d) => parts.BYDAY.split(',').includes(d));
    return { choice: days.join(',') === WEEKDAYS ? 'weekdays' : 'weekly', days, rule };
  }
  return { choice: 'custom', days: [], rule };
}

/** The weekday code (`MO`…) of the date that starts `value` (`YYYY-MM-DD…`). */
const weekdayOf = (value) => DAY_CODES[new Date(`${value.slice(0, 10)}T00:00:00Z`).getUTCDay()];

/** An error from a change of a recurring event, in words a person uses. */
export function scopeWords(e) {
  const general = e instanceof ApiError ? e.body?.non_field_errors : null;
  if (general && /first occurrence/i.test(String(general))) {
    return 'This is the first event of the series, so there are no earlier events to keep apart: choose “All events” instead.';
  }
  return e instanceof ApiError ? describe(e.body) || e.message : e.message;
}

/** Asks which events of a series a change is for: `this`, `following` or `all` (those of
 *  `choices`), or `null` when the person cancels. Keyboard first: the first answer has the
 *  focus, Escape cancels. */
export function askScope(heading, choices = ['this', 'following', 'all']) {
  const dialog = document.getElementById('scope-dialog');
  document.getElementById('scope-title').textContent = heading;
  for (const scope of ['this', 'following', 'all']) {
    document.getElementById(`scope-${scope}`).hidden = !choices.includes(scope);
  }
  dialog.returnValue = '';
  dialog.showModal();
  document.getElementById(`scope-${choices[0]}`).focus();
  return new Promise((resolve) => {
    dialog.addEventListener('close', () => resolve(dialog.returnValue || null), { once: true });
  });
}

const FALLBACK_COLOURS = { 5: '#b42318', 4: '#7c3aed', 3: '#047857', 2: '#b45309', 1: '#475467' };

/** The calendar of the signed-in user: `settings` holds timezone, categories and filter. */
export class CalendarView {
  /** `reloadCategories()` fetches the categories again, into `settings`. */
  constructor(element, settings, reloadCategories) {
    this.settings = settings;
    this.reloadCategories = reloadCategories;
    this.dragging = false;
    this.form = EventForm.attach(this);
    this.calendar = new FullCalendar.Calendar(element, {
      plugins: [zonePlugin],
      timeZone: settings.timezone,
      initialView: window.matchMedia('(max-width: 600px)').matches ? 'timeGridDay' : 'timeGridWeek',
      headerToolbar: { left: 'prev,next today', center: 'title', right: 'timeGridDay,timeGridWeek,dayGridMonth,listWeek' },
      buttonText: { today: 'Today', day: 'Day', week: 'Week', month: 'Month', list: 'Agenda' },
      noEventsText: 'Nothing planned these days.',
      height: '75vh',
      // Coloured boxes everywhere (the month view would draw timed events as plain text), cut
      // to their cell; in the month view two a day, then "+N more" (the rows grow to fit them).
      eventDisplay: 'block',
      views: { dayGridMonth: { dayMaxEvents: 2 } },
      expandRows: true,
      scrollTime: '07:00:00',
      eventTimeFormat: TIME_FORMAT,
      slotLabelFormat: { ...TIME_FORMAT, omitZeroMinute: HOUR12 },
      nowIndicator: true,
      // An event dragged between the all-day row and the hours keeps an end.
      forceEventDuration: true,
      selectable: true,
      editable: true,
      events: (range, ok, fail) => this.load(range).then(ok, fail),
      select: (info) => this.form.create(info.start, info.end, info.allDay),
      // A finger selects only after a long press (a short one scrolls); a tap on an empty
      // slot or day makes an event there at once. (A mouse click selects, above.)
      dateClick: (info) => {
        if (!info.jsEvent?.type?.startsWith('touch')) return;
        const end = info.allDay
          ? new Date(fromInput(`${addDays(info.dateStr.slice(0, 10), 1)}T00:00`, this.settings.timezone))
          : new Date(info.date.getTime() + this.settings.defaultDuration * 60_000);
        this.form.create(info.date, end, info.allDay);
      },
      eventClick: (info) => this.form.edit(info.event.extendedProps.raw),
      eventDragStart: () => { this.dragging = true; },
      eventDragStop: () => { this.dragging = false; },
      eventResizeStart: () => { this.dragging = true; },
      eventResizeStop: () => { this.dragging = false; },
      eventDrop: (info) => this.move(info),
      eventResize: (info) => this.move(info),
      eventContent: (arg) => ({ domNodes: eventNodes(arg, this.settings) }),
      // The date picker follows the days shown.
      datesSet: (info) => {
        const picker = document.getElementById('go-to-date');
        if (picker) picker.value = dayOf(info.view.currentStart.toISOString(), this.settings.timezone);
      },
      eventDidMount: (arg) => describeEvent(arg.el, arg.event.extendedProps.raw, this.settings),
    });
    this.calendar.render();
  }

  async load(range) {
    const query = new URLSearchParams({ start: range.startStr, end: range.endStr });
    const events = await api('GET', `/api/events/range/?${query}`);
    // A category the page does not know yet (Google's import makes one): learn it first, for
    // its colour, the filter and the form.
    const known = new Set(this.settings.categories.map((c) => c.id));
    if (events.some((e) => !known.has(e.category))) await this.reloadCategories();
    const only = this.settings.filter;
    return events.filter((e) => !only || String(e.category) === only).map((e) => this.toCalendar(e));
  }

  toCalendar(e) {
    const category = this.settings.categories.find((c) => c.id === e.category);
    const colour = category?.color || FALLBACK_COLOURS[e.priority_level] || '#0b57d0';
    // All-day events as the local days they cover (the end exclusive), in the all-day row.
    const zone = this.settings.timezone;
    const [start, end] = e.all_day ? [dayOf(e.start_time, zone), dayOf(e.end_time, zone)] : [e.start_time, e.end_time];
    return {
      id: String(e.id), title: e.title, start, end, allDay: e.all_day,
      backgroundColor: colour, borderColor: colour, classNames: [`sync-${e.sync_status}`, ...(e.is_completed ? ['event-completed'] : [])],
      extendedProps: { raw: e },
    };
  }

  async move(info) {
    const raw = info.event.extendedProps.raw;
    const body = {
      start_time: info.event.start.toISOString(),
      end_time: (info.event.end ?? info.event.start).toISOString(),
      all_day: info.event.allDay,
    };
    try {
      if (raw.recurring_event_id != null) {
        // No reload while the person chooses: it would put the event back.
        this.asking = true;
        const scope = await askScope(`Move “${raw.title}”`).finally(() => { this.asking = false; });
        if (!scope) {
          info.revert();
          return;
        }
        await this.changeOccurrence(scope, raw, body);
      } else {
        await api('PATCH', `/api/events/${info.event.id}/`, body);
      }
      this.refresh();
    } catch (e) {
      info.revert();
      notify(`Could not move “${info.event.title}”: ${scopeWords(e)}`, 'error');
    }
  }

  /** Changes the occurrence `occurrence` by `body`: `this` event, this and `following` (a
   *  split), or `all` events (the series; new times move it by as much as this one moved). */
  async changeOccurrence(scope, occurrence, body, series = null) {
    if (scope === 'this') return api('PATCH', `/api/events/${occurrence.id}/`, body);
    if (scope === 'following') return api('POST', `/api/events/${occurrence.id}/split/`, body);
    const all = { ...body };
    if ('start_time' in body && body.start_time && body.end_time) {
      const whole = series ?? await api('GET', `/api/events/${occurrence.recurring_event_id}/`);
      const shifted = (field) => new Date(Date.parse(whole[field]) + Date.parse(body[field]) - Date.parse(occurrence[field])).toISOString();
      all.start_time = shifted('start_time');
      all.end_time = shifted('end_time');
    }
    return api('PATCH', `/api/events/${occurrence.recurring_event_id}/`, all);
  }

  /** Deletes the occurrence `occurrence`: `this` event, this and `following` (the series is
   *  split there and the new part deleted), or `all` events. */
  async removeOccurrence(scope, occurrence) {
    if (scope === 'this') return api('DELETE', `/api/events/${occurrence.id}/`);
    if (scope === 'all') return api('DELETE', `/api/events/${occurrence.recurring_event_id}/`);
    const rest = await api('POST', `/api/events/${occurrence.id}/split/`, {});
    return api('DELETE', `/api/events/${rest.id}/`);
  }

  /**
   * Shows the days around `start` (an RFC 3339 instant) if they are not shown, so that an event
   * just saved is in view (the day view at phone width shows one day; "New event" late in the
   * evening makes one tomorrow), and reloads the visible events.
   */
  reveal(start) {
    const at = new Date(start);
    const { activeStart, activeEnd } = this.calendar.view;
    if (at < activeStart || at >= activeEnd) this.calendar.gotoDate(at);
    this.refresh();
  }

  /** Where "New event" starts: the next full hour when now is in view, else 09:00 on the first
   *  day shown (the day, week or month the person is looking at). */
  proposedStart() {
    const { currentStart, currentEnd } = this.calendar.view;
    const now = Date.now();
    if (now >= currentStart.getTime() && now < currentEnd.getTime()) {
      return new Date(Math.ceil(now / 3_600_000) * 3_600_000);
    }
    const zone = this.settings.timezone;
    return new Date(fromInput(`${dayOf(currentStart.toISOString(), zone)}T09:00`, zone));
  }

  /** Shows the day `ymd` (`YYYY-MM-DD`) in the current view. */
  goTo(ymd) {
    if (/^\d{4}-\d\d-\d\d$/.test(ymd)) this.calendar.gotoDate(ymd);
  }

  /** Puts the keyboard focus on the calendar. */
  focus() {
    const element = this.calendar.el;
    element.tabIndex = -1;
    element.focus();
  }

  /** Reloads the visible events, unless the user is dragging one. */
  refresh() {
    if (!this.dragging && !this.asking) this.calendar.refetchEvents();
  }

  destroy() {
    this.calendar.destroy();
  }
}

/** Whether sync states mean anything to the user: only once Google Calendar is connected
 *  (`settings.google` is the header's state). */
const syncShown = (settings) => Boolean(settings.google) && settings.google !== 'not_connected';

/** An event's sync state as the user sees it: a failure Phantom retries on its own is
 *  "retrying", not "failed". */
export function syncState(raw) {
  if (raw.sync_status === 'failed' && /retrying automatically/i.test(raw.sync_error ?? '')) return 'retrying';
  return raw.sync_status;
}
/** The words for `syncState`, and the reason when there is one. */
export function syncWords(raw) {
  const state = syncState(raw).replace('_', ' ');
  return raw.sync_error ? `${state}: ${raw.sync_error}` : state;
}

/** Title, and the sync state when Google is connected, inside the event's box. */
function eventNodes(arg, settings) {
  const raw = arg.event.extendedProps.raw;
  const title = document.createElement('span');
  title.className = 'event-title';
  // The agenda has a column of its own for the time.
  const time = arg.view.type.startsWith('list') ? '' : arg.timeText;
  title.textContent = time ? `${time} ${arg.event.title}` : arg.event.title;
  if (raw.recurring_event_id != null) {
    const mark = document.createElement('span');
    mark.className = 'repeat-mark';
    mark.textContent = '↻';
    mark.title = 'Repeats';
    mark.setAttribute('role', 'img');
    mark.setAttribute('aria-label', 'Repeats');
    title.prepend(mark);
  }
  if (!syncShown(settings)) return [title];
  const badge = document.createElement('span');
  badge.className = 'sync-badge';
  badge.dataset.status = syncState(raw);
  badge.textContent = syncState(raw).replace('_', ' ');
  return [title, badge];
}

function describeEvent(el, raw, settings) {
  el.dataset.eventId = raw.id;
  el.dataset.syncStatus = raw.sync_status;
  if (raw.recurring_event_id != null) el.dataset.recurringEventId = raw.recurring_event_id;
  const title = raw.recurring_event_id != null ? `${raw.title} (repeats)` : raw.title;
  el.title = syncShown(settings) ? `${title} — ${syncWords(raw)}` : title;
}

/** The create/edit form in a modal dialog; one for the page, used by the current view. */
class EventForm {
  static attach(view) {
    EventForm.instance ??= new EventForm();
    EventForm.instance.view = view;
    return EventForm.instance;
  }

  constructor() {
    this.dialog = document.getElementById('event-dialog');
    this.form = document.getElementById('event-form');
    this.form.addEventListener('submit', (e) => { e.preventDefault(); this.save(); });
    this.form.elements.all_day.addEventListener('change', () => this.allDayChanged());
    this.form.elements.start_time.addEventListener('change', () => this.startChanged());
    this.form.elements.repeat.addEventListener('change', () => this.repeatChanged());
    for (const day of this.dayButtons()) {
      day.addEventListener('click', () => {
        const pressed = day.getAttribute('aria-pressed') === 'true';
        // A weekly series repeats on one day at least.
        if (pressed && this.pressedDays().length === 1) return;
        day.setAttribute('aria-pressed', String(!pressed));
      });
    }
    document.getElementById('event-cancel').addEventListener('click', () => this.dialog.close());
    // An occurrence asks which events instead (as Google's page does); anything else, whether.
    document.getElementById('event-delete').addEventListener('click', () => (this.occurrence ? this.remove() : this.confirming(true)));
    document.getElementById('event-confirm-keep').addEventListener('click', () => this.confirming(false));
    document.getElementById('event-confirm-delete').addEventListener('click', () => this.remove());
    this.dialog.addEventListener('close', () => this.view.calendar.unselect());
  }

  dayButtons() {
    return [...document.querySelectorAll('#event-repeat-days button[data-day]')];
  }

  pressedDays() {
    return this.dayButtons().filter((b) => b.getAttribute('aria-pressed') === 'true').map((b) => b.dataset.day);
  }

  /** Shows `repeat` (from `repeatOf`): the choice, the days of a weekly series, and a rule
   *  the choices cannot say as its own choice. */
  showRepeat(repeat) {
    const f = this.form.elements;
    const custom = document.getElementById('event-repeat-custom');
    custom.hidden = repeat.choice !== 'custom';
    custom.textContent = repeat.choice === 'custom' ? `Custom: ${repeat.rule.slice(6)}` : 'Custom';
    f.repeat.value = repeat.choice;
    const days = repeat.days.length ? repeat.days : [weekdayOf(f.start_time.value)];
    for (const b of this.dayButtons()) b.setAttribute('aria-pressed', String(days.includes(b.dataset.day)));
    document.getElementById('event-repeat-days').hidden = repeat.choice !== 'weekly';
    // The select cuts a long rule at phone width: it is written out in full below it.
    const whole = document.getElementById('event-repeat-rule');
    whole.textContent = repeat.choice === 'custom' ? `Repeats by its own rule: ${repeat.rule.slice(6)}` : '';
    whole.hidden = repeat.choice !== 'custom';
  }

  /** Weekly: the day toggles, with the start's day when none is on. */
  repeatChanged() {
    const f = this.form.elements;
    const weekly = f.repeat.value === 'weekly';
    document.getElementById('event-repeat-days').hidden = !weekly;
    document.getElementById('event-repeat-rule').hidden = f.repeat.value !== 'custom';
    if (weekly && !this.pressedDays().length) {
      const day = weekdayOf(f.start_time.value);
      for (const b of this.dayButtons()) b.setAttribute('aria-pressed', String(b.dataset.day === day));
    }
  }

  /** The `recurrence` lines the form says: the chosen rule, with the series' other lines
   *  (EXDATE, RDATE) kept; a custom rule as it was. */
  recurrence() {
    const choice = this.form.elements.repeat.value;
    const kept = this.recurrenceWas.filter((line) => !/^RRULE:/i.test(line));
    if (choice === 'none') return [];
    if (choice === 'custom') return this.recurrenceWas;
    const rule = choice === 'weekly' ? `RRULE:FREQ=WEEKLY;BYDAY=${this.pressedDays().join(',')}` : SIMPLE_RULES[choice];
    return [rule, ...kept];
  }

  open(heading, event, recurrence = []) {
    const { categories } = this.view.settings;
    const f = this.form.elements;
    clearErrors(this.form);
    document.getElementById('event-dialog-title').textContent = heading;
    const options = categories.map((c) => new Option(c.name, c.id));
    // A category the page has not loaded yet (e.g. made by a Google import) is still shown.
    if (event.category && !categories.some((c) => c.id === event.category)) {
      options.push(new Option(event.category_name || 'Unknown category', event.category));
    }
    f.category.replaceChildren(...options);
    f.title.value = event.title;
    f.category.value = event.category ?? '';
    f.all_day.checked = Boolean(event.all_day);
    this.showTimes(Boolean(event.all_day), event.start_time, event.end_time);
    f.description.value = event.description;
    f.is_completed.checked = event.is_completed;
    f.is_flexible.checked = event.is_flexible;
    this.recurrenceWas = recurrence;
    this.showRepeat(repeatOf(recurrence));
    const sync = document.getElementById('event-sync');
    sync.textContent = event.id && syncShown(this.view.settings)
      ? `Google Calendar: ${syncState(event).replace('_', ' ')}${event.sync_error ? ` — ${event.sync_error}` : ''}`
      : '';
    document.getElementById('event-delete').hidden = !event.id;
    this.confirming(false, false);
    this.editing = event.id ?? null;
    this.occurrence = event.recurring_event_id != null ? event : null;
    this.zone = event.timezone || this.view.settings.timezone;
    this.initial = this.values();
    this.dialog.showModal();
    f.title.focus();
  }

  /** Starts and Ends: dates for an all-day event (its last day, not the exclusive end), else
   *  date-times. The type changes before the value, which must fit the new type. */
  showTimes(allDay, start, end) {
    const zone = this.view.settings.timezone;
    const f = this.form.elements;
    f.start_time.type = f.end_time.type = allDay ? 'date' : 'datetime-local';
    if (allDay) {
      const first = dayOf(start, zone);
      const after = dayOf(end, zone);
      f.start_time.value = first;
      f.end_time.value = after > first ? addDays(after, -1) : first;
    } else {
      f.start_time.value = toInput(new Date(start), zone);
      f.end_time.value = toInput(new Date(end), zone);
    }
    this.shownStart = f.start_time.value;
  }

  /** A new start keeps the event's length: Ends moves by as much as Starts did. */
  startChanged() {
    const f = this.form.elements;
    const [before, now] = [this.shownStart, f.start_time.value];
    this.shownStart = now;
    if (!before || !now || !f.end_time.value) return;
    if (f.all_day.checked) {
      f.end_time.value = addDays(f.end_time.value, (Date.parse(now) - Date.parse(before)) / 86_400_000);
    } else {
      f.end_time.value = addMinutes(f.end_time.value, (Date.parse(`${now}:00Z`) - Date.parse(`${before}:00Z`)) / 60_000);
    }
  }

  /** The "All day" switch: date-times become the days they touch; days become a time on the
   *  first one, for the default duration. */
  allDayChanged() {
    const f = this.form.elements;
    const [start, end] = [f.start_time.value, f.end_time.value];
    f.start_time.type = f.end_time.type = f.all_day.checked ? 'date' : 'datetime-local';
    if (f.all_day.checked) {
      const first = start.slice(0, 10);
      let last = end.slice(0, 10);
      if (end.endsWith('T00:00') && last > first) last = addDays(last, -1);
      f.start_time.value = first;
      f.end_time.value = last > first ? last : first;
    } else if (start) {
      f.start_time.value = `${start}T09:00`;
      f.end_time.value = addMinutes(f.start_time.value, this.view.settings.defaultDuration);
    }
    this.shownStart = f.start_time.value;
  }

  /** What the form holds, as typed. */
  values() {
    const f = this.form.elements;
    return {
      title: f.title.value, category: f.category.value, all_day: f.all_day.checked,
      start: f.start_time.value, end: f.end_time.value, description: f.description.value,
      is_completed: f.is_completed.checked, is_flexible: f.is_flexible.checked,
      repeat: f.repeat.value === 'weekly' ? `weekly:${this.pressedDays().join(',')}` : f.repeat.value,
    };
  }

  create(start, end, allDay = false) {
    const category = this.view.settings.categories[0]?.id ?? '';
    this.open('New event', {
      title: '', category, description: '', is_completed: false, is_flexible: true,
      all_day: allDay, start_time: start.toISOString(), end_time: end.toISOString(),
    });
  }

  /** An occurrence shows its series' rule: the series is read first. */
  async edit(event) {
    let recurrence = event.recurrence ?? [];
    this.series = null;
    if (event.recurring_event_id != null) {
      try {
        this.series = await api('GET', `/api/events/${event.recurring_event_id}/`);
        recurrence = this.series.recurrence ?? [];
      } catch (e) {
        notify(`Could not open “${event.title}”: ${e.message}`, 'error');
        return;
      }
    }
    this.open(`Edit “${event.title}”`, event, recurrence);
  }

  /** The request body: for a new event everything; for an edit only what the person changed,
   *  so nothing they did not touch (a category, a time) is sent back. */
  body() {
    const zone = this.view.settings.timezone;
    const now = this.values();
    const was = this.editing ? this.initial : {};
    const changed = (key) => now[key] !== was[key];
    const body = {};
    for (const key of ['title', 'description', 'is_completed', 'is_flexible']) {
      if (changed(key)) body[key] = now[key];
    }
    if (now.category && changed('category')) body.category = Number(now.category);
    // A new event says its zone (the user's); a changed rule is kept in the event's own zone.
    if (!this.editing || changed('repeat')) {
      body.recurrence = this.recurrence();
      body.timezone = this.editing ? this.zone : zone;
    }
    if (changed('all_day') || changed('start') || changed('end')) {
      body.all_day = now.all_day;
      if (now.all_day) {
        body.start_time = now.start ? fromInput(`${now.start}T00:00`, zone) : '';
        body.end_time = now.end ? fromInput(`${addDays(now.end, 1)}T00:00`, zone) : '';
      } else {
        body.start_time = fromInput(now.start, zone);
        body.end_time = fromInput(now.end, zone);
      }
    }
    return body;
  }

  async save() {
    const body = this.body();
    const title = this.values().title;
    if (!this.editing && body.category === undefined) {
      showErrors(this.form, { category: ['Choose a category.'] });
      return;
    }
    try {
      let saved;
      if (this.occurrence) {
        // A new rule is for a whole series or its rest, never one event (as in Google's page).
        const choices = 'recurrence' in body ? ['following', 'all'] : ['this', 'following', 'all'];
        const scope = await askScope(`Save “${title}”`, choices);
        if (!scope) return;
        saved = await this.view.changeOccurrence(scope, this.occurrence, body, this.series);
      } else if (this.editing) {
        saved = await api('PATCH', `/api/events/${this.editing}/`, body);
      } else {
        saved = await api('POST', '/api/events/', body);
      }
      this.dialog.close();
      notify(this.editing ? `Saved “${title}”.` : `Created “${title}”.`);
      this.view.reveal(saved.start_time);
    } catch (e) {
      const words = scopeWords(e);
      if (e instanceof ApiError && e.status === 400 && !/first event of the series/.test(words)) showErrors(this.form, e.body);
      else showErrors(this.form, { non_field_errors: [words] });
    }
  }

  /** Delete asks first: the question and its two answers in place of the form's buttons.
   *  `focus`: move the focus to the answer (or back to Delete when the question goes). */
  confirming(asking, focus = true) {
    document.getElementById('event-confirm-text').textContent = `Delete “${this.initial?.title ?? ''}”?`;
    document.getElementById('event-confirm').hidden = !asking;
    document.getElementById('event-actions').hidden = asking;
    if (focus) document.getElementById(asking ? 'event-confirm-keep' : 'event-delete').focus();
  }

  async remove() {
    try {
      if (this.occurrence) {
        const scope = await askScope(`Delete “${this.initial.title}”`);
        if (!scope) {
          this.confirming(false);
          return;
        }
        await this.view.removeOccurrence(scope, this.occurrence);
      } else {
        await api('DELETE', `/api/events/${this.editing}/`);
      }
      this.dialog.close();
      notify(`Deleted “${this.initial.title}”.`);
      this.view.refresh();
      // The event's box is gone: the focus stays in the calendar, where the person was.
      this.view.focus();
    } catch (e) {
      showErrors(this.form, { non_field_errors: [scopeWords(e)] });
    }
  }
}
