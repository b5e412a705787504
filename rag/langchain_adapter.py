"""pdq inside LangChain: its retriever and its embedder as LangChain objects, for notebooks that
compose their own chains (``retriever | prompt | llm``) over a pdq store.

    >>> from rag import Assistant
    >>> from rag.langchain_adapter import as_retriever
    >>> docs = as_retriever(Assistant(), k=5).invoke("When is my dentist appointment?")

Documents carry the source's text and its metadata (kind, title, sender, date, path, page,
citation id). Nothing here runs on pdq's own search path, so langchain-core is imported only
when a notebook asks for it.
"""

from __future__ import annotations

from typing import Any


def as_retriever(assistant: Any, k: int = 5, filters: dict[str, Any] | None = None) -> Any:
    """A LangChain ``BaseRetriever`` over ``assistant.search`` (hybrid retrieval, same filters)."""
    from langchain_core.callbacks import CallbackManagerForRetrieverRun
    from langchain_core.documents import Document
    from langchain_core.retrievers import BaseRetriever

    class PdqRetriever(BaseRetriever):
        def _get_relevant_documents(
            self, query: str, *, run_manager: CallbackManagerForRetrieverRun
        ) -> list[Document]:
            sources = assistant.search(query, k=k, filters=filters)
            return [
                Document(
                    id=s.chunk_id,
                    page_content=s.text,
                    metadata={
                        "item_id": s.item_id,
                        "kind": s.kind,
                        "title": s.title,
                        "sender": s.sender,
                        "date": s.date.isoformat() if s.date else None,
                        "path": s.path,
                        "page": s.page,
                        "score": s.score,
                    },
                )
                for s in sources
            ]

    return PdqRetriever()


def as_embeddings(embedder: Any) -> Any:
    """pdq's embedder as a LangChain ``Embeddings`` (one model for ingest and queries)."""
    from langchain_core.embeddings import Embeddings

    class PdqEmbeddings(Embeddings):
        def embed_documents(self, texts: list[str]) -> list[list[float]]:
            return embedder.embed(list(texts))

        def embed_query(self, text: str) -> list[float]:
            return embedder.embed([text])[0]

    return PdqEmbeddings()
