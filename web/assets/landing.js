// The landing page only needs the language switch.
import { $ } from '/assets/dom.js';
import { mountLanguageSwitch } from '/assets/i18n.js';

mountLanguageSwitch($('#lang'));
