// pages/events.js - the event log, newest first, growing live.

import { el, replace } from '../dom.js';
import { state } from '../state.js';
import { emptyState, eventsTable, loading, pageHead } from '../ui.js';

export function eventsView() {
  const list = el('div', { id: 'event-list' }, loading());
  let events = [];
  const load = async () => {
    try {
      const r = await state.ctl.request({ action: 'events', limit: 500 });
      events = Array.isArray(r.events) ? r.events : [];
      replace(list, eventsTable(events, true));
    } catch (x) {
      replace(list, emptyState(String(x.message)));
    }
  };
  load();
  return {
    title: 'Events',
    el: el('section', { className: 'page' }, pageHead('Events'), list),
    update(what, ev) {
      // Stored events carry a time; the rest (nodeconnect) are live only.
      if (what === 'event' && ev?.time) {
        events = [ev, ...events].slice(0, 500);
        replace(list, eventsTable(events, true));
      }
    },
  };
}
