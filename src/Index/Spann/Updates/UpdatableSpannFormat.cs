namespace Retrieval.Index.Spann;

/// <summary>
/// Files an <see cref="UpdatableSpannIndex"/> adds beside a SPANN build (which it never modifies): the side posting
/// file, written copy-on-write, and the checkpoint snapshot that says which postings of both files are current.
/// </summary>
internal static class UpdatableSpannFormat
{
    /// <summary>Rewritten postings, each at a page-aligned extent; a raw file, its extents' CRCs live in the snapshot.</summary>
    public const string SidePostingsFile = "postings-updated.bin";
    public const string SnapshotFile = "updates.snapshot";
    public const string SnapshotMagic = "SPFSNAP1";
    public const uint SnapshotVersion = 1;
}
