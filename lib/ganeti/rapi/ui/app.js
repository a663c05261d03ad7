// The web UI of ganeti-rapi: plain DOM code over the RAPI itself.
// Pages (by URL hash): #/ cluster, #/nodes, #/instances, #/jobs, #/jobs/ID.
"use strict";

const FINAL = ["success", "error", "canceled"];
const ROLES = {M: "master", C: "master candidate", R: "regular", D: "drained",
               O: "offline"};
let auth = sessionStorage.getItem("rapiAuth");
let who = sessionStorage.getItem("rapiUser");
let pageSerial = 0;     // a page that was left stops following its job

async function api(method, path, body) {
  // XMLHttpRequest: a 401 then comes without a challenge (no browser dialog)
  const headers = {"Accept": "application/json", "X-Requested-With": "XMLHttpRequest"};
  if (auth) headers["Authorization"] = "Basic " + auth;
  const options = {method: method, headers: headers};
  if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    options.body = JSON.stringify(body);
  }
  const response = await fetch(path, options);
  const data = await response.json();
  if (!response.ok) {
    throw new Error(data.code + " " + data.message);
  }
  return data;
}

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (key === "onclick") node.addEventListener("click", value);
    else node.setAttribute(key, value);
  }
  for (const child of children) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

function table(headers, rows) {
  return el("table", {}, el("thead", {}, el("tr", {}, ...headers.map(h => el("th", {}, h)))),
            el("tbody", {}, ...rows));
}

function say(text, isError) {
  const message = document.getElementById("message");
  message.textContent = text || "";
  message.className = isError ? "error" : "";
}

// A usage bar: the used part of total, with "free of total MiB" beside it.
function bar(total, free, unit) {
  if (total === null || free === null || total === undefined) return "no data";
  const used = total > 0 ? Math.round(100 * (total - free) / total) : 0;
  const fill = el("span", {style: "width: " + used + "%"});
  return el("span", {"class": "usage", "data-used": used},
            el("span", {"class": "bar"}, fill), free + " of " + total + " " + unit + " free");
}

function when(stamp) {
  return stamp ? new Date(stamp[0] * 1000).toLocaleString() : "";
}

async function summaryPage(main) {
  const [info, nodes, instances] = await Promise.all([
    api("GET", "/2/info"), api("GET", "/2/nodes?bulk=1"),
    api("GET", "/2/instances?bulk=1")]);
  document.getElementById("title").textContent = "Ganeti cluster " + info.name;
  const running = instances.filter(i => i.status === "running").length;
  main.replaceChildren(el("h2", {}, "Cluster"), el("dl", {id: "summary"},
    el("dt", {}, "Name"), el("dd", {id: "cluster-name"}, info.name),
    el("dt", {}, "Master"), el("dd", {}, info.master),
    el("dt", {}, "Version"), el("dd", {}, info.software_version),
    el("dt", {}, "Hypervisors"), el("dd", {}, info.enabled_hypervisors.join(", ")),
    el("dt", {}, "Disk templates"), el("dd", {}, (info.enabled_disk_templates || []).join(", ")),
    el("dt", {}, "Nodes"), el("dd", {id: "node-count"}, nodes.length),
    el("dt", {}, "Instances"), el("dd", {id: "instance-count"},
                                  instances.length + " (" + running + " running)")));
}

async function nodesPage(main) {
  const nodes = await api("GET", "/2/nodes?bulk=1");
  main.replaceChildren(el("h2", {}, "Nodes"), table(
    ["Node", "Role", "Memory", "Disk", "Primary", "Secondary"],
    nodes.map(n => el("tr", {"data-node": n.name},
      el("td", {}, n.name), el("td", {}, ROLES[n.role] || n.role),
      el("td", {"class": "memory"}, bar(n.mtotal, n.mfree, "MiB")),
      el("td", {"class": "disk"}, bar(n.dtotal, n.dfree, "MiB")),
      el("td", {}, n.pinst_cnt), el("td", {}, n.sinst_cnt)))));
}

async function submit(method, path, body) {
  try {
    const job = await api(method, path, body);
    location.hash = "#/jobs/" + job;
  } catch (err) {
    say(err.message, true);
  }
}

function actions(inst) {
  if (!auth) return "";
  const base = "/2/instances/" + encodeURIComponent(inst.name);
  const running = inst.status === "running";
  const button = (label, method, path, body) => el("button", {
    "data-action": label.toLowerCase(), onclick: () => submit(method, base + path, body)}, label);
  return el("span", {},
    running ? null : button("Start", "PUT", "/startup"),
    running ? button("Stop", "PUT", "/shutdown") : null,
    running ? button("Reboot", "POST", "/reboot") : null,
    inst.snodes.length || inst.disk_template === "sharedfile" || inst.disk_template === "diskless"
      ? button("Migrate", "PUT", "/migrate", {}) : null,
    inst.snodes.length || inst.disk_template === "sharedfile" || inst.disk_template === "diskless"
      ? button("Failover", "PUT", "/failover", {}) : null);
}

async function instancesPage(main) {
  const instances = await api("GET", "/2/instances?bulk=1");
  main.replaceChildren(el("h2", {}, "Instances"), table(
    ["Instance", "Status", "Primary node", "Secondary nodes", "OS", "Disks", "Memory", ""],
    instances.map(i => el("tr", {"data-instance": i.name},
      el("td", {}, i.name),
      el("td", {"class": "status status-" + i.status}, i.status),
      el("td", {"class": "pnode"}, i.pnode), el("td", {}, i.snodes.join(", ")),
      el("td", {}, i.os), el("td", {}, i.disk_template),
      el("td", {}, i.beparams.maxmem + " MiB"), el("td", {}, actions(i))))));
}

async function jobsPage(main) {
  const jobs = await api("GET", "/2/jobs?bulk=1");
  jobs.sort((a, b) => b.id - a.id);
  main.replaceChildren(el("h2", {}, "Jobs"), table(
    ["Job", "Status", "Summary", "Received"],
    jobs.map(j => el("tr", {"data-job": j.id},
      el("td", {}, el("a", {href: "#/jobs/" + j.id}, j.id)),
      el("td", {"class": "status status-" + j.status}, j.status),
      el("td", {}, j.summary.join(", ")), el("td", {}, when(j.received_ts))))));
}

function logLine(entry) {
  // [serial, [seconds, microseconds], type, message]
  const time = new Date(entry[1][0] * 1000).toLocaleTimeString([], {hour12: false});
  return time + " " + entry[3] + "\n";
}

// One job and its log, followed until it ends: through /2/jobs/ID/wait (the
// RAPI's WaitForJobChange) for a user allowed to use it, else by polling.
async function jobPage(main, id) {
  const serial = pageSerial;
  const job = await api("GET", "/2/jobs/" + id);
  const status = el("span", {id: "job-status", "class": "status status-" + job.status},
                    job.status);
  const log = el("pre", {"class": "log", id: "job-log"});
  let lastSerial = -1;
  for (const entries of job.oplog) {
    for (const entry of entries) {
      log.append(logLine(entry));
      lastSerial = Math.max(lastSerial, entry[0]);
    }
  }
  main.replaceChildren(el("h2", {}, "Job " + id),
    el("dl", {}, el("dt", {}, "Status"), el("dd", {}, status),
       el("dt", {}, "Operations"), el("dd", {}, job.summary.join(", "))),
    log, el("pre", {id: "job-result"}, JSON.stringify(job.opresult)));
  let current = job.status;
  while (!FINAL.includes(current) && serial === pageSerial) {
    if (auth) {
      const query = "?fields=status&previous_job_info=" +
        encodeURIComponent(JSON.stringify([current])) + "&previous_log_serial=" + lastSerial;
      const change = await api("GET", "/2/jobs/" + id + "/wait" + query);
      if (change === null) continue;
      current = change.job_info[0];
      for (const entry of change.log_entries) {
        log.append(logLine(entry));
        lastSerial = Math.max(lastSerial, entry[0]);
      }
    } else {
      await new Promise(resolve => setTimeout(resolve, 1000));
      const again = await api("GET", "/2/jobs/" + id);
      current = again.status;
      log.replaceChildren(...again.oplog.flat().map(logLine));
    }
    status.textContent = current;
    status.className = "status status-" + current;
  }
  if (serial === pageSerial) {
    const done = await api("GET", "/2/jobs/" + id);
    document.getElementById("job-result").textContent = JSON.stringify(done.opresult);
  }
}

async function route() {
  pageSerial += 1;
  const main = document.getElementById("content");
  const hash = location.hash || "#/";
  for (const link of document.querySelectorAll("nav a")) {
    link.classList.toggle("current", link.getAttribute("href") === hash);
  }
  try {
    const job = hash.match(/^#\/jobs\/(\d+)$/);
    if (job) await jobPage(main, job[1]);
    else if (hash === "#/nodes") await nodesPage(main);
    else if (hash === "#/instances") await instancesPage(main);
    else if (hash === "#/jobs") await jobsPage(main);
    else await summaryPage(main);
  } catch (err) {
    say(err.message, true);
  }
}

function showLogin() {
  const loggedIn = Boolean(auth);
  document.getElementById("whoami").textContent = loggedIn ? "user " + who : "";
  for (const id of ["user", "password", "login-button"]) {
    document.getElementById(id).hidden = loggedIn;
  }
  document.getElementById("logout-button").hidden = !loggedIn;
}

async function logIn(event) {
  event.preventDefault();
  const user = document.getElementById("user").value;
  const token = btoa(user + ":" + document.getElementById("password").value);
  const previous = auth;
  auth = token;
  try {
    // a resource that needs a user with the read or write option
    await api("GET", "/2/query/node?fields=name");
  } catch (err) {
    auth = previous;
    say("Login failed: " + err.message, true);
    return;
  }
  who = user;
  sessionStorage.setItem("rapiAuth", auth);
  sessionStorage.setItem("rapiUser", who);
  say("Logged in as " + who);
  showLogin();
  route();
}

function logOut() {
  auth = who = null;
  sessionStorage.removeItem("rapiAuth");
  sessionStorage.removeItem("rapiUser");
  say("");
  showLogin();
  route();
}

document.getElementById("login").addEventListener("submit", logIn);
document.getElementById("logout-button").addEventListener("click", logOut);
window.addEventListener("hashchange", () => { say(""); route(); });
showLogin();
route();
