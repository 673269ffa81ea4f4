-- Whether a photo answers an `x-personal-data` question (or one inside a personal section
-- or repeat): analysts are never served such a photo, nor told its hash. Rows stored before
-- this column existed are taken as personal (the safe side under the GDPR); every insert
-- says which it is.
alter table response_photo add column personal boolean not null default true;
alter table response_photo alter column personal drop default;
create index response_photo_sha256 on response_photo (sha256);
