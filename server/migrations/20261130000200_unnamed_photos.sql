-- Photos no response names yet: counted per device (its quota) and removed after a grace
-- period (see attachment.rs).
create index attachment_device on attachment (device_id);
create index attachment_created_at on attachment (created_at);
