"""The caller: profile, password, personal API tokens."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Response

from joliba.db.tables import ApiToken, Workspace
from joliba.domain.errors import Invalid
from joliba.http.deps import ActorDep, Paging, PlatformDep, ReadDB, WriteDB, page_of
from joliba.schemas.common import Page
from joliba.schemas.tokens import Token, TokenCreate, TokenCreated
from joliba.schemas.users import Me, PasswordChange
from joliba.services import tokens, users

router = APIRouter(tags=["me"])


def token_out(token: ApiToken) -> Token:
    return Token(
        id=token.id,
        name=token.name,
        prefix=token.prefix,
        workspace=token.workspace.slug if token.workspace else None,
        created_at=token.created_at,
        expires_at=token.expires_at,
        last_used_at=token.last_used_at,
    )


@router.get("/me", response_model=Me, summary="The signed-in user")
def get_me(actor: ActorDep, session: ReadDB) -> Me:
    me = Me.model_validate(actor.user)
    if actor.token_workspace_id:
        workspace = session.get(Workspace, actor.token_workspace_id)
        me.token_workspace = workspace.slug if workspace else None
    return me


@router.post("/me/password", status_code=204, summary="Change your password")
def change_password(
    body: PasswordChange, actor: ActorDep, session: WriteDB, platform: PlatformDep
) -> Response:
    settings = platform.settings
    changed = users.change_password(
        session,
        actor,
        current_password=body.current_password,
        new_password=body.new_password,
        max_failures=settings.login_max_failures,
        window=settings.login_window,
    )
    session.commit()  # a failed attempt is audited too
    if not changed:
        raise Invalid("current_password: incorrect", details={"field": "current_password"})
    return Response(status_code=204)


@router.get("/me/tokens", response_model=Page[Token], summary="Your live API tokens")
def list_tokens(actor: ActorDep, session: ReadDB, page: Paging) -> Page[Token]:
    rows, total = tokens.list_for(session, actor.user, page)
    return page_of([token_out(t) for t in rows], page, total)


@router.post(
    "/me/tokens", status_code=201, response_model=TokenCreated, summary="Create an API token"
)
def create_token(body: TokenCreate, actor: ActorDep, session: WriteDB) -> TokenCreated:
    created = tokens.create(
        session,
        actor,
        name=body.name,
        workspace_slug=body.workspace,
        expires_in_days=body.expires_in_days,
    )
    return TokenCreated(**token_out(created.token).model_dump(), token=created.secret)


@router.delete("/me/tokens/{token_id}", status_code=204, summary="Revoke an API token")
def revoke_token(token_id: uuid.UUID, actor: ActorDep, session: WriteDB) -> Response:
    tokens.revoke(session, actor, token_id)
    return Response(status_code=204)
