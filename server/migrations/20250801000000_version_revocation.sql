-- Retired (revoked) questionnaire versions, as ODK Central's "closed" forms. A row here
-- takes the version off the phones' list and makes the server refuse the responses filled
-- against it (`version_revoked`); the responses already stored stay and are exported.
-- Kept beside `questionnaire_version`, which is immutable (trigger). One row per version:
-- revoking again changes nothing (the first revocation, its time and reason stand).
create table questionnaire_version_revocation (
    questionnaire_id bigint not null,
    version integer not null,
    reason text check (reason is null or length(reason) between 1 and 500),
    revoked_by uuid references app_user (id),
    revoked_at timestamptz not null default now(),
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    primary key (questionnaire_id, version),
    foreign key (questionnaire_id, version) references questionnaire_version (questionnaire_id, version)
);
