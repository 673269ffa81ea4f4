-- Staff sessions end: after an idle time and an absolute time (see auth.rs). Device tokens
-- do not expire (a phone may stay offline for weeks); a coordinator revokes a lost one.
alter table token add column last_used_at timestamptz not null default now();
