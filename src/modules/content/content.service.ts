import type { Access } from '../../core/access.ts';
import type { Actor, UserActor } from '../../core/actor.ts';
import { AppError, isUniqueViolation, notFound } from '../../core/errors.ts';
import { decodeCursor, toPage, type Page, type PageQuery } from '../../core/pagination.ts';
import type { Db } from '../../db/client.ts';
import type {
  CatalogFilter,
  Content,
  ContentRepository,
  NewContent,
  NewSeries,
  NewSettings,
  Series,
  Settings,
} from './content.repository.ts';
import type { ContentStatus, ContentType, Visibility } from './content.schema.ts';
import type { ThumbnailService, WithThumbnail } from './thumbnails.service.ts';

/** A content as the API shows it: thumbnailUrl is the effective thumbnail (the creator's, else the generated one). */
export type ContentView = WithThumbnail<Content>;

export interface ContentInput {
  organizationId?: string | null | undefined;
  contentType: ContentType;
  mediaItemId?: string | null | undefined;
  title: string;
  slug?: string | undefined;
  description?: string | null | undefined;
  thumbnailUrl?: string | null | undefined;
  contentBody?: string | null | undefined;
  category?: string | null | undefined;
  tags?: string[] | undefined;
  visibility?: Visibility | undefined;
  priceCents?: number | null | undefined;
  currency?: string | undefined;
  prerequisiteContentIds?: string[] | undefined;
}
export type ContentPatch = Partial<Omit<ContentInput, 'organizationId' | 'contentType'>>;

export interface SeriesInput {
  organizationId?: string | null | undefined;
  title: string;
  slug?: string | undefined;
  description?: string | null | undefined;
  thumbnailUrl?: string | null | undefined;
  priceCents?: number | null | undefined;
  currency?: string | undefined;
}

export type SettingsInput = Partial<
  Pick<
    NewSettings,
    | 'platformName'
    | 'logoUrl'
    | 'primaryColor'
    | 'heroTitle'
    | 'heroSubtitle'
    | 'heroBackgroundUrl'
    | 'heroCtaText'
    | 'heroCtaLink'
    | 'featuredContentIds'
    | 'contactEmail'
    | 'socialLinks'
    | 'aboutContent'
    | 'emailFromName'
    | 'timezone'
    | 'stripeAccountId'
  >
>;

const field = (path: string, message: string) => ({ fields: [{ path, message }] });

/** "Yoga for Beginners!" → "yoga-for-beginners"; never empty. */
export function slugify(title: string): string {
  const s = title
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 80)
    .replace(/-+$/g, '');
  return s || 'untitled';
}

/** The first of `base`, `base-2`, `base-3`… that `taken` does not hold. */
export function nextSlug(base: string, taken: string[]): string {
  const set = new Set(taken);
  if (!set.has(base)) return base;
  for (let i = 2; ; i++) if (!set.has(`${base}-${i}`)) return `${base}-${i}`;
}

export function isTimezone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

export function createContentService(deps: { db: Db; repo: ContentRepository; access: Access; thumbnails: ThumbnailService }) {
  const { db, repo, access, thumbnails } = deps;
  const view = (c: Content) => thumbnails.decorateOne(c);

  /** Who may manage content of this scope: the organization's content managers, or the creator for personal content. */
  const requireScope = async (actor: Actor, organizationId: string | null): Promise<UserActor> => {
    const user = access.requireUser(actor);
    if (organizationId) await access.requireOrg(actor, organizationId, 'content.manage');
    else if (user.role !== 'creator' && user.role !== 'admin')
      {throw new AppError('forbidden', 'Only creators publish personal content');}
    return user;
  };

  /** A content the actor manages; another tenant's answers 404. */
  const managed = async (actor: Actor, id: string): Promise<{ user: UserActor; item: Content }> => {
    const user = access.requireUser(actor);
    const item = await repo.getContent(id);
    if (!item) throw notFound('Content');
    if (item.organizationId) {
      try {
        await access.requireOrg(actor, item.organizationId, 'content.manage');
      } catch (err) {
        if (err instanceof AppError && err.kind === 'not_found') throw notFound('Content');
        throw err;
      }
    } else if (item.creatorId !== user.userId) throw notFound('Content');
    return { user, item };
  };

  const managedSeries = async (actor: Actor, id: string): Promise<{ user: UserActor; series: Series }> => {
    const user = access.requireUser(actor);
    const series = await repo.getSeries(id);
    if (!series) throw notFound('Series');
    if (series.organizationId) {
      try {
        await access.requireOrg(actor, series.organizationId, 'content.manage');
      } catch (err) {
        if (err instanceof AppError && err.kind === 'not_found') throw notFound('Series');
        throw err;
      }
    } else if (series.creatorId !== user.userId) throw notFound('Series');
    return { user, series };
  };

  /** The media item must be the creator's (personal content) or the organization's (its content). */
  const checkMedia = async (
    mediaItemId: string,
    type: ContentType,
    organizationId: string | null,
    userId: string,
  ) => {
    const media = await repo.media(mediaItemId);
    const ours =
      media &&
      (organizationId
        ? media.organizationId === organizationId
        : media.organizationId === null && media.creatorId === userId);
    if (!media || !ours)
      {throw new AppError(
        'unprocessable',
        'No such media item in your library',
        field('body.mediaItemId', 'not found'),
      );}
    if (media.mediaType !== type)
      {throw new AppError(
        'unprocessable',
        `The media item is ${media.mediaType}, not ${type}`,
        field('body.mediaItemId', `is ${media.mediaType}`),
      );}
    return media;
  };

  const checkPrerequisites = async (
    ids: string[],
    organizationId: string | null,
    creatorId: string,
    self?: string,
  ) => {
    if (!ids.length) return;
    if (self && ids.includes(self))
      {throw new AppError(
        'unprocessable',
        'A content cannot be its own prerequisite',
        field('body.prerequisiteContentIds', 'contains itself'),
      );}
    const found = await repo.contentsIn(ids);
    const ok = found.filter((c) =>
      organizationId
        ? c.organizationId === organizationId
        : c.organizationId === null && c.creatorId === creatorId,
    );
    if (ok.length !== new Set(ids).size)
      {throw new AppError(
        'unprocessable',
        'Every prerequisite must be your content',
        field('body.prerequisiteContentIds', 'unknown content'),
      );}
  };

  /** Inserts with a generated slug; a lost race for the same slug tries the next one. */
  const withSlug = async <T>(
    kind: 'content' | 'series',
    title: string,
    given: string | undefined,
    organizationId: string | null,
    creatorId: string,
    insert: (slug: string) => Promise<T>,
  ): Promise<T> => {
    const constraint =
      kind === 'content'
        ? organizationId
          ? 'content_org_slug_unique'
          : 'content_personal_slug_unique'
        : organizationId
          ? 'content_series_org_slug_unique'
          : 'content_series_personal_slug_unique';
    if (given) {
      try {
        return await insert(given);
      } catch (err) {
        if (isUniqueViolation(err, constraint))
          {throw new AppError('conflict', `The slug ${given} is taken`, {
            code: 'slug_taken',
            fields: [{ path: 'body.slug', message: 'taken' }],
          });}
        throw err;
      }
    }
    const base = slugify(title);
    for (let attempt = 0; ; attempt++) {
      const slug = nextSlug(base, await repo.slugsLike(kind, base, organizationId, creatorId));
      try {
        return await insert(slug);
      } catch (err) {
        if (!isUniqueViolation(err, constraint) || attempt >= 5) throw err;
      }
    }
  };

  const checkShape = (
    type: ContentType,
    mediaItemId: string | null | undefined,
    body: string | null | undefined,
  ) => {
    if (type === 'written') {
      if (mediaItemId)
        {throw new AppError(
          'unprocessable',
          'Written content has no media item',
          field('body.mediaItemId', 'must be empty for written content'),
        );}
      if (!body)
        {throw new AppError(
          'unprocessable',
          'Written content needs a body',
          field('body.contentBody', 'required for written content'),
        );}
    } else if (!mediaItemId)
      {throw new AppError(
        'unprocessable',
        `${type} content needs a media item`,
        field('body.mediaItemId', 'required'),
      );}
  };

  const service = {
    async create(actor: Actor, input: ContentInput): Promise<ContentView> {
      const organizationId = input.organizationId ?? null;
      const user = await requireScope(actor, organizationId);
      checkShape(input.contentType, input.mediaItemId, input.contentBody);
      if (input.mediaItemId)
        {await checkMedia(input.mediaItemId, input.contentType, organizationId, user.userId);}
      await checkPrerequisites(input.prerequisiteContentIds ?? [], organizationId, user.userId);
      const row: Omit<NewContent, 'slug'> = {
        creatorId: user.userId,
        organizationId,
        mediaItemId: input.mediaItemId ?? null,
        title: input.title,
        description: input.description ?? null,
        contentType: input.contentType,
        thumbnailUrl: input.thumbnailUrl ?? null,
        contentBody: input.contentBody ?? null,
        category: input.category ?? null,
        tags: input.tags ?? [],
        visibility: input.visibility ?? 'purchased_only',
        priceCents: input.priceCents ?? null,
        currency: input.currency ?? 'USD',
        prerequisiteContentIds: input.prerequisiteContentIds ?? [],
      };
      return view(
        await withSlug('content', input.title, input.slug, organizationId, user.userId, (slug) =>
          repo.insertContent({ ...row, slug }),
        ),
      );
    },

    async get(actor: Actor, id: string): Promise<ContentView> {
      return view((await managed(actor, id)).item);
    },

    async update(actor: Actor, id: string, patch: ContentPatch): Promise<ContentView> {
      const { user, item } = await managed(actor, id);
      const mediaItemId = patch.mediaItemId !== undefined ? patch.mediaItemId : item.mediaItemId;
      const body = patch.contentBody !== undefined ? patch.contentBody : item.contentBody;
      checkShape(item.contentType, mediaItemId, body);
      if (patch.mediaItemId && patch.mediaItemId !== item.mediaItemId) {
        const media = await checkMedia(
          patch.mediaItemId,
          item.contentType,
          item.organizationId,
          item.creatorId === user.userId ? user.userId : item.creatorId,
        );
        if (item.status === 'published' && media.status !== 'ready')
          {throw new AppError('conflict', 'Published content needs a ready media item', {
            code: 'media_not_ready',
          });}
      }
      if (patch.prerequisiteContentIds)
        {await checkPrerequisites(patch.prerequisiteContentIds, item.organizationId, item.creatorId, item.id);}
      const { slug, ...rest } = patch;
      const set: Partial<NewContent> = Object.fromEntries(
        Object.entries(rest).filter(([, v]) => v !== undefined),
      );
      if (slug !== undefined && slug !== item.slug) set.slug = slug;
      // A client echoing the DTO back sends the generated URL: that is no thumbnail of the creator's own.
      if (set.thumbnailUrl && thumbnails.isGeneratedUrl(id, set.thumbnailUrl)) set.thumbnailUrl = null;
      try {
        return await view((await repo.updateContent(id, set))!);
      } catch (err) {
        if (isUniqueViolation(err))
          {throw new AppError('conflict', `The slug ${slug} is taken`, {
            code: 'slug_taken',
            fields: [{ path: 'body.slug', message: 'taken' }],
          });}
        throw err;
      }
    },

    async setStatus(actor: Actor, id: string, status: ContentStatus): Promise<ContentView> {
      const { item } = await managed(actor, id);
      if (status === 'published' && item.mediaItemId) {
        const media = await repo.media(item.mediaItemId);
        if (media?.status !== 'ready')
          {throw new AppError(
            'conflict',
            `The media item is ${media?.status ?? 'gone'}; publish it once it is ready`,
            { code: 'media_not_ready' },
          );}
      }
      return view(
        (await repo.updateContent(id, {
          status,
          publishedAt: status === 'published' ? (item.publishedAt ?? new Date()) : item.publishedAt,
        }))!,
      );
    },

    async remove(actor: Actor, id: string): Promise<void> {
      await managed(actor, id);
      await repo.updateContent(id, { deletedAt: new Date(), status: 'archived' });
    },

    async listManaged(
      actor: Actor,
      organizationId: string | null,
      q: PageQuery & { status?: ContentStatus | undefined },
    ): Promise<Page<ContentView>> {
      const user = access.requireUser(actor);
      if (organizationId) await access.requireOrg(actor, organizationId, 'content.read');
      const rows = await repo.listManaged(organizationId ? { organizationId } : { creatorId: user.userId }, {
        before: decodeCursor(q.cursor),
        limit: q.limit,
        status: q.status,
      });
      const page = toPage(rows, q.limit);
      return { ...page, items: await thumbnails.decorate(page.items) };
    },

    // --- catalog -----------------------------------------------------------------------------
    async catalog(
      _actor: Actor,
      q: PageQuery & Omit<CatalogFilter, 'before' | 'limit'>,
    ): Promise<Page<ContentView>> {
      // Open to everyone, signed in or not: the query itself keeps drafts, private, archived and deleted items out.
      const page = toPage(await repo.catalog({ ...q, before: decodeCursor(q.cursor) }), q.limit);
      return { ...page, items: await thumbnails.decorate(page.items) };
    },

    async catalogItem(_actor: Actor, id: string): Promise<ContentView> {
      const c = await repo.getContent(id);
      if (!c || c.status !== 'published' || c.visibility === 'private') throw notFound('Content');
      return view(c);
    },

    // --- series ------------------------------------------------------------------------------
    async createSeries(actor: Actor, input: SeriesInput): Promise<Series> {
      const organizationId = input.organizationId ?? null;
      const user = await requireScope(actor, organizationId);
      const row: Omit<NewSeries, 'slug'> = {
        creatorId: user.userId,
        organizationId,
        title: input.title,
        description: input.description ?? null,
        thumbnailUrl: input.thumbnailUrl ?? null,
        priceCents: input.priceCents ?? null,
        currency: input.currency ?? 'USD',
      };
      return withSlug('series', input.title, input.slug, organizationId, user.userId, (slug) =>
        repo.insertSeries({ ...row, slug }),
      );
    },

    async getSeries(actor: Actor, id: string): Promise<Series> {
      return (await managedSeries(actor, id)).series;
    },

    async updateSeries(
      actor: Actor,
      id: string,
      patch: Partial<Omit<SeriesInput, 'organizationId'>> & { status?: ContentStatus | undefined },
    ): Promise<Series> {
      const { series } = await managedSeries(actor, id);
      const set: Partial<NewSeries> = Object.fromEntries(
        Object.entries(patch).filter(([, v]) => v !== undefined),
      );
      if (patch.status === 'published' && !series.publishedAt) set.publishedAt = new Date();
      try {
        return (await repo.updateSeries(id, set))!;
      } catch (err) {
        if (isUniqueViolation(err))
          {throw new AppError('conflict', `The slug ${patch.slug} is taken`, {
            code: 'slug_taken',
            fields: [{ path: 'body.slug', message: 'taken' }],
          });}
        throw err;
      }
    },

    /** Sets the series' items in order; each must be content of the same owner, in no other series. */
    async setSeriesItems(actor: Actor, id: string, contentIds: string[]): Promise<Series> {
      const { series } = await managedSeries(actor, id);
      if (new Set(contentIds).size !== contentIds.length)
        {throw new AppError('unprocessable', 'An item appears twice', field('body.contentIds', 'duplicates'));}
      const found = await repo.contentsIn(contentIds);
      const ours = found.filter((c) =>
        series.organizationId
          ? c.organizationId === series.organizationId
          : c.organizationId === null && c.creatorId === series.creatorId,
      );
      if (ours.length !== contentIds.length)
        {throw new AppError(
          'unprocessable',
          'Every item must be content of the series owner',
          field('body.contentIds', 'unknown content'),
        );}
      const elsewhere = ours.find((c) => c.seriesId && c.seriesId !== id);
      if (elsewhere)
        {throw new AppError('conflict', `${elsewhere.title} is in another series`, {
          code: 'in_other_series',
          fields: [{ path: 'body.contentIds', message: `${elsewhere.id} is in another series` }],
        });}
      return db.transaction(async (tx) => {
        await repo.setSeriesOf(id, contentIds, tx);
        return (await repo.updateSeries(id, { contentOrder: contentIds }, tx))!;
      });
    },

    async removeSeries(actor: Actor, id: string): Promise<void> {
      await managedSeries(actor, id);
      await db.transaction(async (tx) => {
        await repo.setSeriesOf(id, [], tx);
        await repo.updateSeries(id, { deletedAt: new Date(), status: 'archived' }, tx);
      });
    },

    async catalogSeries(_actor: Actor, id: string): Promise<{ series: Series; items: ContentView[] }> {
      const series = await repo.getSeries(id);
      if (!series || series.status !== 'published') throw notFound('Series');
      const items = (await repo.contentsIn(series.contentOrder)).filter(
        (c) => c.status === 'published' && c.visibility !== 'private',
      );
      const byId = new Map(items.map((c) => [c.id, c]));
      return {
        series,
        items: await thumbnails.decorate(series.contentOrder.map((cid) => byId.get(cid)).filter((c): c is Content => !!c)),
      };
    },

    // --- settings ----------------------------------------------------------------------------
    async settings(_actor: Actor, organizationId: string | null): Promise<Settings | null> {
      return (await repo.settings(organizationId)) ?? null;
    },

    async updateSettings(
      actor: Actor,
      organizationId: string | null,
      input: SettingsInput,
    ): Promise<Settings> {
      if (organizationId) await access.requireOrg(actor, organizationId, 'settings.manage');
      else access.requirePlatformAdmin(actor);
      if (organizationId && input.stripeAccountId !== undefined) {
        throw new AppError('bad_request', 'Only the platform settings hold a Stripe account', field('body.stripeAccountId', 'platform settings only'));
      }
      if (input.timezone !== undefined && !isTimezone(input.timezone))
        {throw new AppError(
          'bad_request',
          `${input.timezone} is not a time zone`,
          field('body.timezone', 'unknown time zone'),
        );}
      if (input.featuredContentIds?.length) {
        const found = await repo.contentsIn(input.featuredContentIds);
        const ok = found.filter(
          (c) =>
            c.status === 'published' &&
            c.visibility !== 'private' &&
            (!organizationId || c.organizationId === organizationId),
        );
        if (ok.length !== new Set(input.featuredContentIds).size) {
          throw new AppError(
            'unprocessable',
            'Featured content must be published content of this catalog',
            field('body.featuredContentIds', 'unknown or unpublished content'),
          );
        }
      }
      const patch = Object.fromEntries(Object.entries(input).filter(([, v]) => v !== undefined));
      return repo.saveSettings(organizationId, patch);
    },

    /** The operator's fee rates: per organization and per creator (null clears the rate). */
    async setOrgFee(actor: Actor, organizationId: string, bps: number | null): Promise<Settings> {
      access.requirePlatformAdmin(actor);
      try {
        return await repo.saveSettings(organizationId, { platformFeeBps: bps });
      } catch (err) {
        if ((err as { cause?: { code?: string } }).cause?.code === '23503') throw notFound('Organization');
        throw err;
      }
    },
    async setPlatformFee(actor: Actor, bps: number | null): Promise<Settings> {
      access.requirePlatformAdmin(actor);
      return repo.saveSettings(null, { platformFeeBps: bps });
    },
    async setCreatorFee(actor: Actor, userId: string, bps: number | null): Promise<void> {
      const admin = access.requirePlatformAdmin(actor);
      try {
        await repo.setCreatorFee(userId, bps, admin.userId);
      } catch (err) {
        if ((err as { cause?: { code?: string } }).cause?.code === '23503') throw notFound('User');
        throw err;
      }
    },
  };
  return service;
}
export type ContentService = ReturnType<typeof createContentService>;
