// "Your dose" card: today's visits and minutes against the prescription, Koper visits, your
// streak and the last 14 days, from GET /api/v1/compliance/me. The last answer is kept in the
// state store so the card still shows (with its time) without signal.

import { NetworkError, get } from "./api.js";
import * as db from "./db.js";

const $ = (id) => document.getElementById(id);
const DAY_LABEL = { met: "dose delivered", missed: "not delivered", today: "in progress", none: "nothing prescribed" };

function plural(n, word) { return `${n} ${word}${n === 1 ? "" : "s"}`; }

// "12 of 30": the delivered figure large, the prescription small (fits a 360 px screen).
function figure(dd, delivered, prescribed) {
  const big = document.createElement("span");
  big.className = "big";
  big.textContent = String(delivered);
  const parts = [big];
  if (prescribed) {
    const of = document.createElement("span");
    of.className = "of";
    of.textContent = ` of ${prescribed}`;
    parts.push(of);
  }
  dd.replaceChildren(...parts);
}

export function render(me, asOf) {
  const card = $("dose");
  if (!me) { card.hidden = true; return; }
  card.hidden = false;
  const t = me.today;
  figure($("dose-visits"), t.delivered_visits, t.prescribed_visits);
  figure($("dose-minutes"), Math.round(t.delivered_minutes), Math.round(t.prescribed_minutes));
  figure($("dose-koper"), t.koper_visits, 0);
  const s = me.streak;
  const streak = $("dose-streak");
  streak.textContent = s.current
    ? `${plural(s.current, "day")} in a row with your dose delivered` + (s.longest > s.current ? ` (best ${s.longest})` : "")
    : (s.longest ? `Best streak ${plural(s.longest, "day")}: deliver today's dose to start a new one` : "Deliver today's dose to start a streak");
  streak.className = `streak${s.current ? " on" : ""}`;
  const squad = $("dose-squad");
  squad.hidden = !(me.squad && me.squad_streak && me.squad_streak.current);
  if (!squad.hidden) squad.textContent = `${me.squad}: ${plural(me.squad_streak.current, "day")} in a row`;
  const days = me.days.map((d) => {
    const li = document.createElement("li");
    const today = d.day === me.today.day;
    // Today is still being patrolled: not met yet is "in progress", never a miss.
    li.className = d.met === true ? "met" : d.met === false ? (today ? "today" : "missed") : "none";
    const label = new Date(`${d.day}T12:00:00`).toLocaleDateString([], { weekday: "short", day: "numeric" });
    li.title = `${label}: ${DAY_LABEL[li.className]}`;
    li.setAttribute("aria-label", li.title);
    return li;
  });
  $("dose-days").replaceChildren(...days);
  const when = new Date(asOf);
  $("dose-asof").textContent = Date.now() - asOf > 10 * 60000
    ? `As of ${when.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" })} (no signal since)` : "";
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
