-- Photos (and any other attachment) sent on their own by the phones, named by the SHA-256
-- of their bytes: the server checks the name against the bytes before storing them.
-- Immutable once stored: a second upload of the same bytes changes nothing.
create table attachment (
    sha256 text primary key check (sha256 ~ '^[0-9a-f]{64}$'),
    media_type text not null,
    size bigint not null check (size >= 0),
    content bytea not null,
    -- The device that sent it first.
    device_id uuid references device (id),
    created_at timestamptz not null default now()
);

-- The photos each stored response names (`"sha256:…"` answers of its photo questions),
-- wherever they are in its answers: `pointer` is the answer's JSON pointer, with the
-- repeat item's index (`/enfants/0/photo`). A response is complete when every photo it
-- names is in `attachment`; no foreign key to `attachment`, since the response usually
-- arrives before its photos.
create table response_photo (
    response_id uuid not null references response (id),
    sha256 text not null,
    pointer text not null,
    primary key (response_id, pointer)
);
