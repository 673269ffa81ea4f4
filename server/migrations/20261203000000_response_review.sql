-- Reviewing responses: each response's state now (kept in step with its history in the
-- same transaction), the history of states set, and the questionnaire setting that holds
-- the responses not approved out of analysts' views and exports.

alter table response
    add column review_state text not null default 'received'
        check (review_state in ('received', 'approved', 'has_issues', 'rejected'));

create table response_review (
    id bigint generated always as identity primary key,
    response_id uuid not null references response (id) on delete cascade,
    state text not null check (state in ('received', 'approved', 'has_issues', 'rejected')),
    comment text,
    by_user_id uuid references app_user (id) on delete set null,
    created_at timestamptz not null default now()
);

create index response_review_response on response_review (response_id, id);

alter table questionnaire add column approved_only boolean not null default false;
