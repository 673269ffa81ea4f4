-- An admin can disable a staff account: it can no longer sign in, and its sessions end at
-- once (they are revoked in the same transaction; `token_owner` also refuses them).
alter table app_user add column disabled_at timestamptz;
