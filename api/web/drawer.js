// On narrow screens (phones) the sidebar is a drawer over the chat: the menu button opens it;
// a tap beside it, Escape, or choosing anything in it closes it. Wide screens show the sidebar
// always and hide the button (style.css).

import { h } from './dom.js';

export class Drawer {
  constructor(panel) {
    this.panel = panel;
    this.isOpen = false;
    this.button = h('button.icon.menu-button', {
      type: 'button', id: 'menu-button', 'aria-label': 'Conversations',
      'aria-controls': panel.id, 'aria-expanded': 'false',
    }, '☰');
    this.button.addEventListener('click', () => this.toggle(!this.isOpen));
    this.backdrop = h('div.drawer-backdrop', { hidden: true });
    this.backdrop.addEventListener('click', () => this.close());
    // The focus is in the panel while it is open (see `toggle`).
    panel.addEventListener('keydown', (e) => {
      if (e.key === 'Escape' && this.isOpen) this.close();
    });
  }

  toggle(open) {
    this.isOpen = open;
    this.panel.classList.toggle('open', open);
    this.backdrop.hidden = !open;
    this.button.setAttribute('aria-expanded', String(open));
    if (open) this.panel.querySelector('a, button')?.focus();
  }

  /** Closed by the reader (Escape, a tap beside it): the focus goes back to the button. */
  close() {
    if (!this.isOpen) return;
    this.toggle(false);
    this.button.focus();
  }
}
