-- Parole's server schema, version 1.
-- Lowercase SQL, singular table names. `user` is a reserved word in PostgreSQL, hence
-- `app_user`.

create table app_user (
    id uuid primary key,
    username text not null unique,
    role text not null check (role in ('admin', 'coordinator', 'analyst', 'interviewer')),
    password_hash text not null,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now()
);

create table interviewer (
    id uuid primary key,
    name text not null,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now()
);

-- One-time enrolment codes, stored as the SHA-256 of their normalised form.
create table enrolment_code (
    id uuid primary key,
    interviewer_id uuid not null references interviewer (id) on delete cascade,
    code_hash text not null unique,
    expires_at timestamptz not null,
    used_at timestamptz,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now()
);

create table device (
    id uuid primary key,
    interviewer_id uuid not null references interviewer (id),
    name text not null,
    revoked_at timestamptz,
    last_sync_at timestamptz,
    device_state jsonb,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now()
);

-- Bearer tokens, stored as the SHA-256 of the token. A token belongs to a user or a device.
create table token (
    id uuid primary key,
    token_hash text not null unique,
    user_id uuid references app_user (id) on delete cascade,
    device_id uuid references device (id) on delete cascade,
    revoked_at timestamptz,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    check ((user_id is null) <> (device_id is null))
);

create table questionnaire (
    id bigint generated always as identity primary key,
    slug text not null unique,
    -- json, not jsonb: the order of `properties` is the order questions are asked.
    draft json not null,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now()
);

-- Published versions: immutable once inserted.
create table questionnaire_version (
    questionnaire_id bigint not null references questionnaire (id),
    version integer not null check (version > 0),
    title text not null,
    document json not null,
    published_at timestamptz not null default now(),
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    primary key (questionnaire_id, version)
);

create function questionnaire_version_is_immutable() returns trigger language plpgsql as $$
begin
    raise exception 'questionnaire_version is immutable';
end;
$$;

create trigger questionnaire_version_immutable
    before update or delete on questionnaire_version
    for each row execute function questionnaire_version_is_immutable();

-- Responses: stored once, never overwritten. `seq` orders them for incremental export.
create table response (
    id uuid primary key,
    seq bigint generated always as identity unique,
    questionnaire_id bigint not null,
    version integer not null,
    answers jsonb not null,
    started_at text not null,
    started_at_ts timestamptz not null,
    completed_at text not null,
    completed_at_ts timestamptz not null,
    device_id uuid,
    sender_device_id uuid references device (id),
    location jsonb,
    content_hash text not null,
    received_at timestamptz not null default now(),
    foreign key (questionnaire_id, version) references questionnaire_version (questionnaire_id, version)
);

create index response_questionnaire_seq on response (questionnaire_id, seq);
