// "Your dose" card: today's visits and minutes against the prescription, Koper visits, your
// streak and the last 14 days, from GET /api/v1/compliance/me. The last answer is kept in the
// state store so the card still shows (with its time) without signal.

import { NetworkError, get } from "./api.js";
import * as db from "./db.js";
import { lang, t } from "./i18n.js";

const $ = (id) => document.getElementById(id);
let latest = null;
export const last = () => latest;

const days = (n) => t(n === 1 ? "dose.day" : "dose.days.n", { n });

// "12 of 30": the delivered figure large, the prescription small (fits a 360 px screen).
function figure(dd, delivered, prescribed) {
  const big = document.createElement("span");
  big.className = "big";
  big.textContent = String(delivered);
  const parts = [big];
  if (prescribed) {
    const of = document.createElement("span");
    of.className = "of";
    of.textContent = ` ${t("dose.of", { n: prescribed })}`;
    parts.push(of);
  }
  dd.replaceChildren(...parts);
}

export function render(me, asOf) {
  const card = $("dose");
  latest = me;
  if (!me) { card.hidden = true; return; }
  card.hidden = false;
  const d0 = me.today;
  figure($("dose-visits"), d0.delivered_visits, d0.prescribed_visits);
  figure($("dose-minutes"), Math.round(d0.delivered_minutes), Math.round(d0.prescribed_minutes));
  figure($("dose-koper"), d0.koper_visits, 0);
  const s = me.streak;
  const streak = $("dose-streak");
  streak.textContent = s.current
    ? t("dose.streak", { d: days(s.current) }) + (s.longest > s.current ? ` ${t("dose.best", { d: days(s.longest) })}` : "")
    : (s.longest ? t("dose.beststart", { d: days(s.longest) }) : t("dose.start"));
  streak.className = `streak${s.current ? " on" : ""}`;
  const squad = $("dose-squad");
  squad.hidden = !(me.squad && me.squad_streak && me.squad_streak.current);
  if (!squad.hidden) squad.textContent = t("dose.squad", { s: me.squad, d: days(me.squad_streak.current) });
  const strip = me.days.map((d) => {
    const li = document.createElement("li");
    const today = d.day === me.today.day;
    // Today is still being patrolled: not met yet is "in progress", never a miss.
    li.className = d.met === true ? "met" : d.met === false ? (today ? "today" : "missed") : "none";
    const label = new Date(`${d.day}T12:00:00`).toLocaleDateString(lang, { weekday: "short", day: "numeric" });
    li.title = `${label}: ${t(`dose.day.${li.className}`)}`;
    li.setAttribute("aria-label", li.title);
    return li;
  });
  $("dose-days").replaceChildren(...strip);
  const when = new Date(asOf);
  $("dose-asof").textContent = Date.now() - asOf > 10 * 60000
    ? t("dose.asof", { at: when.toLocaleTimeString(lang, { hour: "2-digit", minute: "2-digit" }) }) : "";
}

export async function load() {
  const saved = await db.getState("dose", null);
  if (saved) render(saved.me, saved.at);
  try {
    const res = await get("/api/v1/compliance/me");
    if (res.ok && res.data && res.data.today) {
      const at = Date.now();
      await db.setState("dose", { me: res.data, at });
      render(res.data, at);
    } else if (res.status === 403 || res.status === 401) {
      render(null);
    }
  } catch (err) {
    if (!(err instanceof NetworkError)) throw err;
  }
}
