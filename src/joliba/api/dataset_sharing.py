"""Sharing a dataset: shares with other workspaces, dataset tokens, and the access log.

All of these act on datasets the workspace owns; a workspace a dataset is shared with
cannot share it further, and gets the same 404 as for a dataset that does not exist.
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Response

from joliba.api.datasets import BASE
from joliba.domain.permissions import Action
from joliba.http.deps import Paging, ReadDB, WriteDB, page_of, require
from joliba.schemas.common import Page
from joliba.schemas.dataset_reads import (
    AccessEntry,
    DatasetToken,
    DatasetTokenCreate,
    DatasetTokenCreated,
    Share,
    ShareCreate,
)
from joliba.services import dataset_access, dataset_shares, dataset_tokens, datasets
from joliba.services.workspaces import Access

router = APIRouter(tags=["datasets"])
DATASET = BASE + "/{slug}"


@router.get(DATASET + "/shares", response_model=list[Share], summary="Workspaces it is shared with")
def list_shares(
    slug: str,
    access: Annotated[Access, Depends(require(Action.DATASET_SHARE, write=False))],
    session: ReadDB,
) -> list[Share]:
    dataset = datasets.get(session, access, slug, owned=True)
    return [
        Share(workspace=w.slug, created_at=s.created_at)
        for s, w in dataset_shares.list_for(session, dataset)
    ]


@router.post(
    DATASET + "/shares",
    status_code=201,
    response_model=Share,
    summary="Share with another workspace (its members read every published version)",
)
def create_share(
    slug: str,
    body: ShareCreate,
    access: Annotated[Access, Depends(require(Action.DATASET_SHARE))],
    session: WriteDB,
) -> Share:
    dataset = datasets.get(session, access, slug, owned=True)
    target = dataset_shares.share(session, access, dataset, body.workspace)
    shares = dict((w.slug, s) for s, w in dataset_shares.list_for(session, dataset))
    view = Share(workspace=target.slug, created_at=shares[target.slug].created_at)
    return view


@router.delete(DATASET + "/shares/{workspace}", status_code=204, summary="Revoke a share")
def revoke_share(
    slug: str,
    workspace: str,
    access: Annotated[Access, Depends(require(Action.DATASET_SHARE))],
    session: WriteDB,
) -> Response:
    dataset_shares.revoke(
        session, access, datasets.get(session, access, slug, owned=True), workspace
    )
    return Response(status_code=204)


@router.get(
    DATASET + "/tokens", response_model=list[DatasetToken], summary="The dataset's read tokens"
)
def list_tokens(
    slug: str,
    access: Annotated[Access, Depends(require(Action.DATASET_SHARE, write=False))],
    session: ReadDB,
) -> list[DatasetToken]:
    dataset = datasets.get(session, access, slug, owned=True)
    return [DatasetToken.model_validate(t) for t in dataset_tokens.list_for(session, dataset)]


@router.post(
    DATASET + "/tokens",
    status_code=201,
    response_model=DatasetTokenCreated,
    summary="Create a read-only token for this dataset only (the secret is shown once)",
)
def create_token(
    slug: str,
    body: DatasetTokenCreate,
    access: Annotated[Access, Depends(require(Action.DATASET_SHARE))],
    session: WriteDB,
) -> DatasetTokenCreated:
    dataset = datasets.get(session, access, slug, owned=True)
    token, secret = dataset_tokens.create(
        session, access, dataset, name=body.name, expires_in_days=body.expires_in_days
    )
    view = DatasetTokenCreated(**DatasetToken.model_validate(token).model_dump(), token=secret)
    return view


@router.delete(DATASET + "/tokens/{token_id}", status_code=204, summary="Revoke a dataset token")
def revoke_token(
    slug: str,
    token_id: uuid.UUID,
    access: Annotated[Access, Depends(require(Action.DATASET_SHARE))],
    session: WriteDB,
) -> Response:
    dataset = datasets.get(session, access, slug, owned=True)
    dataset_tokens.revoke(session, access, dataset, token_id)
    return Response(status_code=204)


@router.get(
    DATASET + "/access",
    response_model=Page[AccessEntry],
    summary="The access log: every download, export, preview and query, newest first",
)
def access_log(
    slug: str,
    access: Annotated[Access, Depends(require(Action.DATASET_ACCESS_LOG))],
    session: ReadDB,
    page: Paging,
) -> Page[AccessEntry]:
    dataset = datasets.get(session, access, slug, owned=True)
    rows, total = dataset_access.list_for(session, dataset, page)
    return page_of(
        [
            AccessEntry(
                at=e.at,
                action=e.action,
                version=e.version_name,
                file=e.file_name,
                user=email,
                workspace=workspace,
                via=e.via,
                rows=e.rows,
                bytes=e.bytes,
            )
            for e, email, workspace in rows
        ],
        page,
        total,
    )
